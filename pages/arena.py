"""Method arena: weighting methods race on a two-task toy with conflicting minima."""

from ui.arena import arena_view
from ui.state import page_frame

page_frame("Method arena")
arena_view()

"""Method arena: weighting methods race on a two-task toy with conflicting minima."""

from ui.arena.page import arena_view
from ui.frame.state import page_frame

page_frame("Method arena")
arena_view()

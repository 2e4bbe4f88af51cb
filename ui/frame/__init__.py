"""The frame every page shares: the tab's state and links (state, links, url_state), who this browser is (identity), notices that survive a rerun, and the server's start (serve, preload)."""

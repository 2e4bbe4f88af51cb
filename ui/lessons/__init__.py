"""The Lessons page: steps, the prediction and the claim checked on the study's results (page)."""

"""The Data page: upload, preview, roles and kinds of a user's table, relatedness and measured gains (page)."""

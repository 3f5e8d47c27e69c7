"""The console's request handlers, one module per area; ``admin.routes`` maps URLs to them."""

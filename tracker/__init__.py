"""The core layer: settings, warehouse, parsing, returns inbox, sources; imports no other project package."""

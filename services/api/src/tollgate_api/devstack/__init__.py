"""The local stack behind ``tollgate dev``: embedded servers, supervised children, the demo seed."""

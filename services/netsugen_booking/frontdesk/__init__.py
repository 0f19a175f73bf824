"""The front-desk console (issue 10): /frontdesk, server-rendered HTML with vanilla JavaScript."""

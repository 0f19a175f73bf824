"""The plan's initiatives (取組) and the KPIs that measure them."""

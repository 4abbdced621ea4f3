"""Where a request goes: path syntax, the Router, compiled route plans, extractors,
URLconf mounting and discovery."""

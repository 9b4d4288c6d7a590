std = "max"
globals = { "ngx" }
max_line_length = 120
files["tests/lua"] = { std = "+busted" }
files["examples"] = { globals = { "arg" } }

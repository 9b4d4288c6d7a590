std = "max"
globals = { "ngx" }
max_line_length = 120
files["tests/lua"] = { std = "+busted", max_line_length = 140 }
files["examples"] = { globals = { "arg" } }
exclude_files = { "tests/node/node_modules" }

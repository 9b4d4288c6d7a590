-- Only what every Lua has (5.1, 5.2, 5.3, 5.4, LuaJIT): the module, the CLI and
-- the examples run on all of them. Tests and benchmarks may use more.
std = "min"
globals = { "ngx" }
max_line_length = 120
files["tests/lua"] = { std = "max+busted", max_line_length = 140 }
files["bench"] = { std = "max" }
files["examples"] = { globals = { "arg" } }
exclude_files = { "tests/node/node_modules" }

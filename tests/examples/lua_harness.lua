-- Runs an Argo CD resource health script the way Argo CD does: the live
-- object in the global `obj`, the script's returned table read for `status`
-- and `message`.
--   lua5.4 lua_harness.lua SCRIPT OBJECT_FILE
-- OBJECT_FILE is a Lua chunk returning the object as a table. Prints the
-- status and the message on two lines.
local script_path, object_path = arg[1], arg[2]
local object = assert(loadfile(object_path, "t", {}))()
local env = setmetatable({ obj = object }, { __index = _G })
local script = assert(loadfile(script_path, "t", env))
local hs = script()
assert(type(hs) == "table", "the health script returned no table")
io.write(tostring(hs.status), "\n", tostring(hs.message), "\n")

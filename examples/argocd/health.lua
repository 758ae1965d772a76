-- Argo CD resource health check for seal.dev/SealedSecret.
--
-- Argo CD runs this with the live object in the global `obj` and reads the
-- returned table's `status` and `message`.
--
--   Healthy      Synced=True and status.observedGeneration equals
--                metadata.generation: the Secret holds what Git holds now
--   Progressing  no status yet, the controller has not observed the newest
--                generation (whatever its conditions say: they describe an
--                older spec), or no Synced condition, or Synced=Unknown
--   Degraded     Synced=False for the newest generation, with the
--                controller's message (which names the key and the reason)
--
-- Because a SealedSecret becomes Healthy only once its Secret is written, a
-- sync wave of SealedSecrets holds back the workloads of later waves until
-- their Secrets exist.
local hs = {}

local function find_condition(conditions, wanted)
  if type(conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if type(condition) == "table" and condition.type == wanted then
      return condition
    end
  end
  return nil
end

local status = obj.status
if type(status) ~= "table" then
  hs.status = "Progressing"
  hs.message = "waiting for unseal-controller to report a status"
  return hs
end

local generation = nil
if type(obj.metadata) == "table" then
  generation = obj.metadata.generation
end
local observed = status.observedGeneration
if generation == nil or observed == nil or observed ~= generation then
  hs.status = "Progressing"
  hs.message = "waiting for unseal-controller to observe generation " ..
    tostring(generation) .. " (observed " .. tostring(observed) .. ")"
  return hs
end

local synced = find_condition(status.conditions, "Synced")
if synced == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the Synced condition"
  return hs
end

local message = synced.message
if message == nil or message == "" then
  message = synced.reason or ""
end
if synced.status == "True" then
  hs.status = "Healthy"
  hs.message = message
elseif synced.status == "False" then
  hs.status = "Degraded"
  hs.message = message
else
  hs.status = "Progressing"
  hs.message = "Synced is " .. tostring(synced.status) .. ": " .. message
end
return hs

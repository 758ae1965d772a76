-- Argo CD health check for argoproj.io/Application, so that the sync waves
-- between Applications (app of apps: the controller's Application in wave -1
-- before the applications' in wave 0) wait for the earlier Application to be
-- Healthy, not merely applied. Argo CD stopped assessing Application health
-- by default in 1.8; this restores it: an Application is as healthy as it
-- reports itself, and Progressing until it reports anything.
local hs = {}
hs.status = "Progressing"
hs.message = ""
if type(obj.status) == "table" and type(obj.status.health) == "table" then
  if obj.status.health.status ~= nil then
    hs.status = obj.status.health.status
  end
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs

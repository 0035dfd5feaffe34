# The environment every runner applies: they take turns on its lock.
environment = "shared-lab"

host "web" {
  provider = "sim.lab"
  count    = 3
  lease    = "1h"
}

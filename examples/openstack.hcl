# Servers on OpenStack: two web servers from plain arguments and a database
# from a template, each on the private network with a floating IP.
#
#   export OS_AUTH_URL=https://keystone.example.com:5000/v3
#   export OS_USERNAME=jenkins OS_PASSWORD=… OS_PROJECT_NAME=qe
#   broker plan -f openstack.hcl
#   broker apply -f openstack.hcl
#   broker exec -f openstack.hcl web -- uptime
#   broker destroy -f openstack.hcl
#
# Or, instead of auth_url and the user's credentials, a clouds.yaml cloud:
#   cloud = "mycloud"    # ./clouds.yaml, ~/.config/openstack/, /etc/openstack/
environment = "osdemo"

provider "openstack" "cloud" {
  auth_url     = env("OS_AUTH_URL")
  username     = env("OS_USERNAME")
  password     = env("OS_PASSWORD") # sensitive: never recorded
  project_name = env("OS_PROJECT_NAME")
  # Application credentials instead of username and password:
  #   application_credential_id     = env("OS_APPLICATION_CREDENTIAL_ID")
  #   application_credential_secret = env("OS_APPLICATION_CREDENTIAL_SECRET")
  region_name         = "RegionOne"
  default_network     = "private"
  default_key_name    = "default"
  floating_ip_network = "public" # a floating IP per server, released at check-in
  address             = "auto"   # floating if the server has one, else the private address
  ssh_user            = "cloud-user"
  server_timeout      = "15m"
  templates = {
    rhel9 = { image = "rhel-9.4", flavor = "m1.large" }
  }
}

host "web" {
  provider = "openstack.cloud"
  count    = 2
  args = {
    image     = "cirros"
    flavor    = "m1.small"
    user_data = "#cloud-config\npackages: [nginx]\n"
    metadata  = { team = "qe" }
  }
}

host "db" {
  provider = "openstack.cloud"
  args     = { template = "rhel9" }
}

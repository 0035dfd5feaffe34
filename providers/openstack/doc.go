// Package openstack is broker's provider for servers on OpenStack. It
// registers the type "openstack" (names are looked up without regard to
// case, so the Python broker's "OpenStack" works) and talks to the cloud through gophercloud v2: Keystone
// v3 (password or application credential; or a clouds.yaml cloud read
// from the standard locations), Nova for servers, flavors and key pairs,
// Glance for images, Neutron for networks, ports and floating IPs.
//
// A checkout resolves the image, flavor and networks (by id, then by
// name), creates one server carrying broker's labels as metadata (plus
// broker.provider, broker.instance and a per-call broker.create nonce),
// hands the server id to the request's Checkpoint before it waits, and
// polls until the server is ACTIVE. A server that goes to ERROR is deleted
// and reported (*BuildError) with Nova's fault message. When the setting
// floating_ip_network is set, a floating IP is allocated for the server's
// first port, described "broker:<server id>" so that check-in releases it.
// The host is reached over SSH (user ssh_user, port 22) at the address the
// setting address picks: auto (floating if any, else fixed), floating or
// fixed (the first network's). Check-in deletes the server and waits until
// Nova no longer knows it.
//
// Crash safety: 5xx answers and dropped connections are retried (setting
// retries, pause poll_interval). A create that fails that way may have
// taken effect: before it is sent again, the servers are searched for the
// create's nonce, and one found is adopted, so a lost answer makes no
// duplicate. A resumed checkout (an apply killed while it waited) adopts
// the server of the checkpointed id, else the one whose broker.intent
// metadata is the intent's; one in ERROR is deleted and a new one made.
// Quota errors (Nova's 403 or 413 "Quota exceeded") are *APIError with
// Quota set and a hint.
//
// Arguments are the Python broker's: image, flavor, network(s) and
// key_name (aliases ostack_image, ostack_flavor, ostack_network,
// ostack_key_name, so --ostack-image works on the command line), template
// (ostack_template: a named set of arguments in the setting templates;
// arguments given beside it win), plus user_data (cloud-init),
// metadata, security_groups and availability_zone. What none of them
// names comes from the settings default_image, default_flavor,
// default_network and default_key_name.
//
// Secrets: password and application_credential_secret are sensitive
// settings (env() or sensitive variables); they go to Keystone and
// nowhere else, and no error repeats a request body.
//
// The emulator in package ostest serves the same APIs on loopback for the
// tests; its servers are not machines, so SSH to them is not tested.
package openstack

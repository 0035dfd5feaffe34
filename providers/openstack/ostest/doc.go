// Package ostest is an emulator of the parts of the OpenStack APIs that
// broker's openstack provider uses, served over real HTTP on 127.0.0.1 for
// tests and demos. Stock gophercloud works against it unmodified.
//
// It follows the API reference's shapes: Keystone v3 (POST
// /identity/v3/auth/tokens with the password and application_credential
// methods, the token in X-Subject-Token, a service catalog with public,
// internal and admin endpoints of one region), Nova v2.1 (servers with
// metadata, addresses and the fault of a server in ERROR, flavors,
// keypairs; itemNotFound and forbidden bodies), Glance v2 images and
// Neutron v2.0 networks, ports and floating IPs. Every request but the
// token request needs a token the emulator issued.
//
// Servers are deterministic: a new server is BUILD for a number of GETs of
// it (Options.BuildPolls), then ACTIVE, or ERROR with a fault when a build
// failure was injected; a deleted server answers for a number of GETs
// (Options.DeletePolls) before it is gone. Tests never sleep.
//
// Faults: FailNext answers the next requests of a method and path prefix
// with 503 before they take effect; LoseNextCreates lets the next server
// creates take effect and then drops the connection before the answer;
// FailNextBuilds sends the next servers to ERROR with a fault message;
// SetQuota makes creates past a number of servers fail with Nova's 403
// "Quota exceeded" answer; ExpireTokens invalidates the tokens issued.
//
// The emulator is test code: it keeps everything in memory and checks
// credentials only as far as tests need.
package ostest

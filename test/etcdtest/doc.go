// Package etcdtest starts real etcd servers for tests and benchmarks: each
// member runs as a child process of the test binary, on 127.0.0.1 high
// ports, with its data directory in t.TempDir(), and is stopped by
// t.Cleanup.
//
// Typical use from another package's test:
//
//	c := etcdtest.Start(t)          // one member
//	c = etcdtest.StartCluster(t, 3) // three members, one cluster
//	c.Endpoints()                   // client URLs, "http://127.0.0.1:port"
//	c.Members[1].Kill()             // SIGKILL one member; Restart brings it back
//
// Start waits until every member answers /health, so the cluster has a
// leader when it returns.
//
// When etcd is not installed (Debian: etcd-server), Start and Require skip
// the test with the reason; when the environment has CI=true they fail it
// instead, so a CI runner missing etcd cannot pass silently.
//
// The package imports nothing of broker, so any package's tests can use it.
package etcdtest

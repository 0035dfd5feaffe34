package etcdtest_test

import (
	"net/http"
	"testing"

	"github.com/labbroker/broker/test/etcdtest"
)

func TestStartCluster(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	if got := len(c.Endpoints()); got != 3 {
		t.Fatalf("%d endpoints, want 3", got)
	}
	c.Members[2].Kill(t)
	// The other two still form a quorum and answer.
	resp, err := http.Get(c.Members[0].ClientURL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.Members[2].Restart(t)
}

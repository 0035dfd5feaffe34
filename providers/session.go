package providers

import (
	"context"

	"github.com/labbroker/broker/executor/remote"
)

// SessionOpener is a provider that reaches its hosts itself rather than
// through SSH: the docker provider opens docker-exec sessions over the
// engine's exec and archive APIs for hosts whose transport is
// TransportDockerExec.
type SessionOpener interface {
	OpenSession(ctx context.Context, h HostRef) (remote.Session, error)
}

package docker

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/providers"
)

// Labels the provider adds beside broker's own.
const (
	// LabelProvider marks containers and networks made by this provider.
	LabelProvider = "broker.provider"
	// LabelInstance is the provider instance's name.
	LabelInstance = "broker.instance"
	// LabelNetworkManaged marks a network the provider created, so it is
	// removed with its last container.
	LabelNetworkManaged = "broker.network.managed"
	// LabelExecute marks a one-off container of Execute.
	LabelExecute = "broker.execute"
)

// authorizedKeysEnv is how broker-sshd images (test/images) get the key
// that may log in.
const authorizedKeysEnv = "BROKER_AUTHORIZED_KEYS"

func init() {
	providers.Register(&providers.Type{
		Name:           "docker",
		Aliases:        []string{"podman", "Container"},
		Summary:        "containers on a Docker or Podman engine",
		SettingsSchema: settingsSchema,
		ArgsSchema:     argsSchema,
		New: func(ctx context.Context, cfg providers.Config) (providers.Provider, error) {
			return New(ctx, cfg)
		},
	})
}

// Provider is one configured docker (or podman) provider instance.
type Provider struct {
	api      *client.Client
	host     string // engine address, for messages
	pubHost  string // where published ports are reached
	local    bool   // engine on this machine
	instance string
	user     string
	set      settings
	logger   *slog.Logger

	pingMu sync.Mutex // guards pinged and tried
	pinged bool
	// tried are podman's sockets tried in vain when host is a guess.
	tried []string

	// netMu orders network removal (write) against checkouts that use a
	// network (read); netCreate serialises creation, since engines before
	// API 1.44 accept two networks of one name.
	netMu     sync.RWMutex
	netCreate sync.Mutex
}

var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Extender      = (*Provider)(nil)
	_ providers.Syncer        = (*Provider)(nil)
	_ providers.Refresher     = (*Provider)(nil)
	_ providers.Executor      = (*Provider)(nil)
	_ providers.SessionOpener = (*Provider)(nil)
)

// New makes a provider instance from cfg. It does not contact the engine:
// an engine that is down is reported by the first call that needs it.
// Its errors do not name the instance: the caller chose it and says so.
func New(_ context.Context, cfg providers.Config) (*Provider, error) {
	s, err := decodeSettings(cfg.Settings)
	if err != nil {
		return nil, err
	}
	typeName := cfg.Type
	if strings.EqualFold(cfg.Alias, "podman") {
		typeName = "podman"
	}
	host, tried := engineHost(s, typeName)
	api, err := newClient(host, s)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		api:      api,
		host:     host,
		tried:    tried,
		instance: cfg.Instance,
		user:     cfg.User,
		set:      s,
		logger:   cfg.Logger,
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	p.pubHost, p.local = publishHost(host)
	if !s.publishSet && p.local {
		p.set.PublishAddress = "127.0.0.1"
	}
	if p.set.AuthorizedKeys == "" && cfg.AuthorizedKeys != nil {
		// broker's own key, so an sshd image lets broker in with no set-up.
		p.set.AuthorizedKeys = strings.TrimSpace(cfg.AuthorizedKeys())
	}
	if p.set.NamePrefix == "" {
		p.set.NamePrefix = sanitizeName(cfg.User)
	}
	if p.set.NamePrefix == "" {
		p.set.NamePrefix = "broker"
	}
	return p, nil
}

// Host is the engine address the provider talks to.
func (p *Provider) Host() string { return p.host }

// Client is the provider's engine client.
func (p *Provider) Client() *client.Client { return p.api }

// Close releases the engine client.
func (p *Provider) Close() error { return p.api.Close() }

// ping checks once that the engine answers; an engine that does not is an
// *EngineError.
func (p *Provider) ping(ctx context.Context) error {
	p.pingMu.Lock()
	defer p.pingMu.Unlock()
	if p.pinged {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := p.api.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &EngineError{Host: p.host, Tried: p.tried, Err: err}
	}
	p.pinged = true
	p.tried = nil // came up since New looked
	return nil
}

// engineErr turns a connection failure into an *EngineError.
func (p *Provider) engineErr(err error) error {
	if isConnErr(err) {
		p.pingMu.Lock()
		tried := p.tried
		p.pingMu.Unlock()
		return &EngineError{Host: p.host, Tried: tried, Err: err}
	}
	return err
}

// Describe tells what the provider does; listings "images" and
// "containers" list the engine's images and broker's containers.
func (p *Provider) Describe(ctx context.Context, req providers.DescribeRequest) (providers.DescribeResponse, error) {
	resp := providers.DescribeResponse{
		Summary:  fmt.Sprintf("containers on the engine at %s", p.host),
		Listings: []string{"images", "containers", "container_hosts", "container_apps"},
		Actions: []providers.Action{
			{Name: "checkout", Summary: "create and start a container per host", Args: argHelp()},
			{Name: "execute", Summary: "run a one-off container with a command, print its output and remove it", Args: executeHelp()},
		},
		Detail: map[string]any{"host": p.host, "name_prefix": p.set.NamePrefix},
	}
	listing := strings.ReplaceAll(req.Listing, "-", "_")
	switch listing {
	case "":
		return resp, nil
	case "container_host", "container_app", "image":
		return p.describeImage(ctx, resp, req.Item)
	case "container_hosts", "container_apps":
		// The Python broker's listings: images labelled broker_compatible
		// (hosts), or every tagged image (apps); the first tag of each.
		if err := p.ping(ctx); err != nil {
			return resp, err
		}
		imgs, err := p.api.ImageList(ctx, client.ImageListOptions{})
		if err != nil {
			return resp, p.engineErr(fmt.Errorf("list images: %w", err))
		}
		for _, im := range imgs.Items {
			if len(im.RepoTags) == 0 || im.RepoTags[0] == "<none>:<none>" {
				continue
			}
			if listing == "container_hosts" && !truthy(im.Labels["broker_compatible"]) {
				continue
			}
			resp.Items = append(resp.Items, providers.Item{Name: im.RepoTags[0], Detail: map[string]any{"id": im.ID, "size": im.Size}})
		}
		sort.Slice(resp.Items, func(i, j int) bool { return resp.Items[i].Name < resp.Items[j].Name })
		resp.Summary = strings.ReplaceAll(listing, "_", " ")
		if resp.Items, err = providers.SelectQuery(resp.Items, req.Query, 0); err != nil {
			return resp, err
		}
		resp.Selected = true
		return resp, nil
	case "images":
		if err := p.ping(ctx); err != nil {
			return resp, err
		}
		imgs, err := p.api.ImageList(ctx, client.ImageListOptions{})
		if err != nil {
			return resp, p.engineErr(fmt.Errorf("list images: %w", err))
		}
		for _, im := range imgs.Items {
			for _, tag := range im.RepoTags {
				if req.Item != "" && req.Item != tag {
					continue
				}
				resp.Items = append(resp.Items, providers.Item{Name: tag, Detail: map[string]any{"id": im.ID, "size": im.Size}})
			}
		}
	case "containers":
		hosts, err := p.Sync(ctx, providers.SyncRequest{AllUsers: true})
		if err != nil {
			return resp, err
		}
		for _, h := range hosts.Hosts {
			resp.Items = append(resp.Items, providers.Item{Name: h.Name, Description: fmt.Sprint(h.Facts["image"]), Detail: h.Facts})
		}
	default:
		return resp, fmt.Errorf("unknown listing %q: %w", req.Listing, providers.ErrNotSupported)
	}
	sort.Slice(resp.Items, func(i, j int) bool { return resp.Items[i].Name < resp.Items[j].Name })
	return resp, nil
}

// describeImage shows one image, as the Python broker's
// `providers Container --container-host NAME`.
func (p *Provider) describeImage(ctx context.Context, resp providers.DescribeResponse, name string) (providers.DescribeResponse, error) {
	if name == "" {
		return resp, fmt.Errorf("name an image: --container-host IMAGE")
	}
	if err := p.ping(ctx); err != nil {
		return resp, err
	}
	in, err := p.api.ImageInspect(ctx, name)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return resp, &ImageError{Image: name, Err: err}
		}
		return resp, p.engineErr(fmt.Errorf("inspect image %s: %w", name, err))
	}
	detail := map[string]any{"name": name, "id": in.ID, "tags": in.RepoTags, "created": in.Created, "size": in.Size, "os": in.Os, "architecture": in.Architecture}
	if c := in.Config; c != nil {
		var ports []string
		for port := range c.ExposedPorts {
			ports = append(ports, port)
		}
		sort.Strings(ports)
		detail["config"] = map[string]any{"env": c.Env, "cmd": c.Cmd, "entrypoint": c.Entrypoint, "exposed_ports": ports,
			"working_dir": c.WorkingDir, "user": c.User, "labels": c.Labels}
	}
	resp.Summary = "image " + name
	resp.Actions = nil
	resp.Detail = detail
	return resp, nil
}

// truthy is the Python broker's truth test of a label value: set and not
// empty.
func truthy(s string) bool { return s != "" }

func argHelp() []providers.ArgHelp { return providers.HelpOf(argsSchema) }

// executeHelp lists the arguments that matter to a one-off container.
func executeHelp() []providers.ArgHelp {
	var out []providers.ArgHelp
	for _, h := range argHelp() {
		switch h.Name {
		case "image", "env", "network", "user", "workdir", "pull":
			out = append(out, h)
		}
	}
	return out
}

// sanitizeName keeps what container names allow ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-_.")
}

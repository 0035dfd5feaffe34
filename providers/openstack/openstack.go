package openstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	gcos "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/webclient"
)

// Labels (server metadata) the provider adds beside broker's own.
const (
	// LabelProvider marks servers made by this provider.
	LabelProvider = "broker.provider"
	// LabelInstance is the provider instance's name.
	LabelInstance = "broker.instance"
	// LabelCreate is a nonce per create call: a create whose answer was
	// lost is found by it.
	LabelCreate = "broker.create"
)

// fipDescription marks a floating IP the provider allocated for a server,
// so that check-in releases it.
func fipDescription(serverID string) string { return "broker:" + serverID }

func init() { providers.Register(Type()) }

// Type is the openstack provider type for the registry.
func Type() *providers.Type {
	return &providers.Type{
		Name: "openstack",
		// "OpenStack", the Python broker's name, needs no alias: names are
		// looked up without regard to case.
		Summary:        "OpenStack: servers from Nova, images from Glance, networks from Neutron",
		SettingsSchema: settingsSchema,
		ArgsSchema:     argsSchema,
		New: func(ctx context.Context, cfg providers.Config) (providers.Provider, error) {
			return New(ctx, cfg)
		},
	}
}

// Provider is one configured openstack provider instance. It is safe for
// concurrent use.
type Provider struct {
	set      settings
	instance string
	user     string
	logger   *slog.Logger

	mu      sync.Mutex // guards the clients
	compute *gophercloud.ServiceClient
	image   *gophercloud.ServiceClient
	network *gophercloud.ServiceClient
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Extender  = (*Provider)(nil)
	_ providers.Syncer    = (*Provider)(nil)
	_ providers.Refresher = (*Provider)(nil)
	_ providers.Adopter   = (*Provider)(nil)
)

// New makes a provider instance from cfg. It does not contact the cloud:
// the first call that needs it authenticates.
func New(_ context.Context, cfg providers.Config) (*Provider, error) {
	s, err := decodeSettings(cfg.Settings)
	if err != nil {
		return nil, err
	}
	p := &Provider{set: s, instance: cfg.Instance, user: cfg.User, logger: cfg.Logger}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// authOptions builds the Keystone request and endpoint options from the
// settings, or from clouds.yaml when cloud is set (settings given beside
// cloud override it).
func (p *Provider) authOptions() (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, error) {
	s := p.set
	var (
		ao     gophercloud.AuthOptions
		eo     gophercloud.EndpointOpts
		tlsCfg *tls.Config
	)
	if s.Cloud != "" {
		opts := []clouds.ParseOption{clouds.WithCloudName(s.Cloud)}
		if s.CloudsFile != "" {
			opts = append(opts, clouds.WithLocations(s.CloudsFile))
		}
		if s.Region != "" {
			opts = append(opts, clouds.WithRegion(s.Region))
		}
		if s.Interface != "" {
			opts = append(opts, clouds.WithEndpointType(s.Interface))
		}
		// Settings given beside cloud override the cloud's (a password
		// from env() for a clouds.yaml without secure.yaml).
		for _, o := range []struct {
			v  string
			fn func(string) clouds.ParseOption
		}{
			{s.AuthURL, clouds.WithIdentityEndpoint}, {s.Username, clouds.WithUsername}, {s.Password, clouds.WithPassword},
			{s.ProjectName, clouds.WithProjectName}, {s.ProjectID, clouds.WithProjectID},
			{s.AppCredID, clouds.WithApplicationCredentialID}, {s.AppCredName, clouds.WithApplicationCredentialName},
			{s.AppCredSecret, clouds.WithApplicationCredentialSecret},
		} {
			if o.v != "" {
				opts = append(opts, o.fn(o.v))
			}
		}
		var err error
		ao, eo, tlsCfg, err = clouds.Parse(opts...)
		if err != nil {
			// The cloud's name and where it was looked for; clouds.yaml
			// errors carry no secrets.
			return ao, eo, nil, fmt.Errorf("clouds.yaml cloud %q: %w", s.Cloud, err)
		}
	} else {
		ao = gophercloud.AuthOptions{
			IdentityEndpoint: s.AuthURL,
			Username:         s.Username,
			Password:         s.Password,
			DomainName:       s.UserDomainName,
			TenantName:       s.ProjectName,
			TenantID:         s.ProjectID,
		}
		if s.AppCredID != "" || s.AppCredName != "" {
			ao = gophercloud.AuthOptions{
				IdentityEndpoint:            s.AuthURL,
				ApplicationCredentialID:     s.AppCredID,
				ApplicationCredentialName:   s.AppCredName,
				ApplicationCredentialSecret: s.AppCredSecret,
			}
			if s.AppCredID == "" {
				ao.Username, ao.DomainName = s.Username, s.UserDomainName
			}
		} else {
			scope := &gophercloud.AuthScope{ProjectID: s.ProjectID}
			if s.ProjectID == "" {
				scope = &gophercloud.AuthScope{ProjectName: s.ProjectName, DomainName: s.ProjectDomainName}
			}
			ao.Scope = scope
		}
		eo = gophercloud.EndpointOpts{Region: s.Region}
		switch s.Interface {
		case "internal":
			eo.Availability = gophercloud.AvailabilityInternal
		case "admin":
			eo.Availability = gophercloud.AvailabilityAdmin
		default:
			eo.Availability = gophercloud.AvailabilityPublic
		}
	}
	ao.AllowReauth = true
	if s.CAFile != "" || !s.VerifyTLS {
		ours, err := webclient.TLSConfig(s.VerifyTLS, s.CAFile)
		if err != nil {
			return ao, eo, nil, err
		}
		if tlsCfg == nil { // else clouds.yaml's (client certificates) with ours on top
			tlsCfg = ours
		} else {
			tlsCfg.InsecureSkipVerify = ours.InsecureSkipVerify //nolint:gosec // the user's choice, for labs with self-signed certificates
			if ours.RootCAs != nil {
				tlsCfg.RootCAs = ours.RootCAs
			}
		}
	}
	return ao, eo, tlsCfg, nil
}

// clients authenticates once and returns the service clients.
func (p *Provider) clients(ctx context.Context) (compute, image, network *gophercloud.ServiceClient, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.compute != nil {
		return p.compute, p.image, p.network, nil
	}
	ao, eo, tlsCfg, err := p.authOptions()
	if err != nil {
		return nil, nil, nil, err
	}
	pc, err := gcos.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("auth URL %q: %w", ao.IdentityEndpoint, err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if tlsCfg != nil {
		transport.TLSClientConfig = tlsCfg
	}
	pc.HTTPClient = http.Client{Transport: transport, Timeout: 2 * time.Minute}
	err = p.retry(ctx, "authenticate", func() error { return gcos.Authenticate(ctx, pc, ao) })
	if err != nil {
		if gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) {
			return nil, nil, nil, &APIError{Op: "authenticate at " + ao.IdentityEndpoint, Status: http.StatusUnauthorized,
				Message: "the credentials were refused", Hint: "check username, password, project and domains, or the application credential"}
		}
		return nil, nil, nil, apiError("authenticate at "+ao.IdentityEndpoint, err)
	}
	c, err := gcos.NewComputeV2(pc, eo)
	if err != nil {
		return nil, nil, nil, catalogError("compute", eo, err)
	}
	im, err := gcos.NewImageV2(pc, eo)
	if err != nil {
		return nil, nil, nil, catalogError("image", eo, err)
	}
	n, err := gcos.NewNetworkV2(pc, eo)
	if err != nil {
		return nil, nil, nil, catalogError("network", eo, err)
	}
	p.compute, p.image, p.network = c, im, n
	return c, im, n, nil
}

func catalogError(service string, eo gophercloud.EndpointOpts, err error) error {
	where := "in any region"
	if eo.Region != "" {
		where = "in region " + eo.Region
	}
	return fmt.Errorf("the service catalog has no %s endpoint (interface %s) %s: %w", service, eo.Availability, where, err)
}

// retry runs fn until it succeeds, fails for good, or the retries are
// spent; 5xx answers and dropped connections are retried after
// poll_interval.
func (p *Provider) retry(ctx context.Context, what string, fn func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = fn()
		if err == nil || !transient(err) || attempt >= p.set.Retries {
			return err
		}
		p.logger.Debug("openstack: retrying", "op", what, "attempt", attempt+1, "err", err)
		if werr := p.pause(ctx); werr != nil {
			return werr
		}
	}
}

// pause waits poll_interval or until ctx ends.
func (p *Provider) pause(ctx context.Context) error {
	t := time.NewTimer(p.set.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transient reports whether err may go away when asked again: a 5xx
// answer, a dropped connection.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return ue.Actual >= 500
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	// A dropped or refused connection, as the HTTP client reports it.
	var ue2 *url.Error
	return errors.As(err, &ue2)
}

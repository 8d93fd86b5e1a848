package cli

import (
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kstack/kstack/internal/admissionwebhook"
	"github.com/kstack/kstack/internal/platform"
)

func newUpCmd(o *Options) *cobra.Command {
	up := platform.UpOptions{Listen: platform.DefaultListen}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the kstack platform on this machine",
		Long: `Starts the platform's own control plane (embedded etcd and kube-apiserver on
loopback, Secrets encrypted at rest), installs the platform's APIs, and starts the
platform process with its HTTPS gateway, the one listener others reach.

Once the gateway answers /readyz, prints exactly three lines on stdout:
  Console: https://HOST:PORT/console/
  Registry: HOST:PORT (docker login HOST:PORT; images are HOST:PORT/NAMESPACE/REPOSITORY:TAG)
  Admin kubeconfig: PATH
The image registry is served on the same address, at /v2/ (docs/registry.md).
The admin kubeconfig is the host administrator's break-glass access (full rights,
loopback only). Component logs go to DATA_DIR/platform/logs. Ctrl-C stops
everything 'up' started; running it again reuses the PKI and data.`,
		Example: `  kstack up --demo
  kstack up --listen 127.0.0.1:9443
  kstack up --external-url https://kstack.example.com --tls-cert-file tls.crt --tls-key-file tls.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := openData(o, true)
			if err != nil {
				return err
			}
			exe, err := executable()
			if err != nil {
				return err
			}
			up.Data, up.Binary, up.Stdout, up.Progress = d, exe, o.Out, o.ErrOut
			if up.AdminPassword == "" {
				up.AdminPassword = os.Getenv(platform.AdminPasswordEnv)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return platform.Up(ctx, up)
		},
	}
	f := cmd.Flags()
	f.StringVar(&up.Listen, "listen", up.Listen, "HOST:PORT the gateway listens on")
	f.StringVar(&up.ExternalURL, "external-url", "", "https URL the platform advertises, when it is reached through another name or a load balancer")
	f.StringVar(&up.TLSCertFile, "tls-cert-file", "", "PEM certificate for the gateway, replacing the one signed by the platform's CA")
	f.StringVar(&up.TLSKeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	f.BoolVar(&up.Demo, "demo", false, "also run two local demo clusters (demo-1, demo-2) of 3 simulated nodes each")
	f.StringVar(&up.AdminPassword, "admin-password", "", "password of the administrator 'admin' that the first start creates (or set "+platform.AdminPasswordEnv+"; generated and shown once when neither is given)")
	f.StringVar(&up.RecordStore, "record-store", "", "where audit records and persisted events are kept: postgres://USER:PASSWORD@HOST:PORT/DB for PostgreSQL (default: SQLite in the data dir)")
	f.StringSliceVar(&up.PlatformArgs, "platform-arg", nil, "extra flag for 'kstack platform run', e.g. --platform-arg=--max-failed-logins=3 (repeatable)")
	return cmd
}

func newPlatformCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "platform",
		Short: "Commands of the platform process itself",
		Long: `The platform process: controllers and the HTTPS gateway. 'kstack up' runs it
for you next to an embedded control plane; 'kstack platform run' runs it against
a kube-apiserver of your own, e.g. as several replicas for high availability.`,
		Example: `  kstack platform run --kubeconfig platform.kubeconfig --tls-cert-file gw.crt --tls-key-file gw.key`,
	}
	run := platform.RunOptions{Listen: platform.DefaultListen, LeaderElect: true, VirtualNodeIP: "127.0.0.1", Records: platform.DefaultRecordOptions(), Metrics: platform.DefaultMetricsOptions(), Alarms: platform.DefaultAlarmOptions(), Registry: platform.DefaultRegistryOptions()}
	run.AccessTokenLifetime, run.SessionLifetime = 15*time.Minute, 24*time.Hour
	run.MaxFailedLogins, run.LockDuration, run.KeyRotation = 5, 15*time.Minute, 7*24*time.Hour
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "Run the platform process (controllers and gateway) against a kube-apiserver",
		Long: `Runs the platform's controllers (with leader election, so several replicas can
run for high availability) and its HTTPS gateway against the kube-apiserver named
by --kubeconfig. 'kstack up' runs this for you; run it yourself to deploy replicas
against an existing control plane.`,
		Example: `  kstack platform run --kubeconfig platform.kubeconfig --tls-cert-file gw.crt --tls-key-file gw.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return platform.Run(ctx, run)
		},
	}
	f := runCmd.Flags()
	f.StringVar(&run.Kubeconfig, "kubeconfig", "", "kubeconfig of the kube-apiserver that stores the platform's state (required)")
	f.StringVar(&run.Listen, "listen", run.Listen, "HOST:PORT the gateway listens on")
	f.StringVar(&run.TLSCertFile, "tls-cert-file", "", "PEM serving certificate of the gateway (required)")
	f.StringVar(&run.TLSKeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file (required)")
	f.BoolVar(&run.LeaderElect, "leader-elect", run.LeaderElect, "elect one leader among replicas to run the controllers")
	f.StringVar(&run.ClientCAFile, "client-ca-file", "", "PEM CA whose client certificates the gateway accepts (the admin kubeconfig's)")
	f.StringVar(&run.AdminTokenFile, "admin-token-file", "", "file holding the administrator's bearer token")
	f.StringVar(&run.ExternalURL, "external-url", "", "https URL people reach the gateway at; the OpenID issuer is this URL + /oidc (default https://127.0.0.1:PORT)")
	f.StringVar(&run.OIDCClientsFile, "oidc-clients", "", `JSON file of further OAuth clients: [{"id":..., "secret":..., "redirectURIs":[...]}]`)
	f.DurationVar(&run.AccessTokenLifetime, "access-token-lifetime", run.AccessTokenLifetime, "lifetime of access tokens (refreshed by clients)")
	f.DurationVar(&run.SessionLifetime, "session-lifetime", run.SessionLifetime, "lifetime of a login (its refresh token)")
	f.IntVar(&run.MaxFailedLogins, "max-failed-logins", run.MaxFailedLogins, "failed logins in a row that lock an account")
	f.DurationVar(&run.LockDuration, "lock-duration", run.LockDuration, "how long a locked account stays locked")
	f.DurationVar(&run.KeyRotation, "signing-key-rotation", run.KeyRotation, "how often the token signing key is replaced (retired keys verify until their tokens expire)")
	f.StringVar(&run.VirtualNodeIP, "virtual-node-ip", run.VirtualNodeIP, "address member clusters reach this process at for the virtual nodes it runs (VirtualNodeSets)")
	f.StringVar(&run.WebhookListen, "webhook-listen", "127.0.0.1:0", "HOST:PORT of this replica's admission webhook, which the kube-apiserver calls for the writes made through this gateway (port 0: any free port)")
	f.StringVar(&run.WebhookClientCAFile, "webhook-client-ca-file", "", "PEM CA of the client certificate the kube-apiserver shows webhooks (CN "+admissionwebhook.ClientName+"); without it the webhook answers any TLS client")
	f.StringSliceVar(&run.DialAllow, "dial-allow", nil, "CIDRs or addresses users may point the platform at (log sinks, webhooks, SMTP servers, later repositories) although they are loopback, link-local or the platform's own, e.g. 127.0.0.0/8 for sinks on this machine")
	rec := &run.Records
	f.StringVar(&rec.Store, "record-store", "", "record store for audit records and persisted events: sqlite:/path/records.db or postgres://USER:PASSWORD@HOST:PORT/DB (default: none, audit and event persistence off)")
	f.StringVar(&rec.QueueDir, "record-queue-dir", "", "directory of the bounded on-disk queue in front of the record store (default: beside the SQLite file, or under the temp dir)")
	f.Int64Var(&rec.QueueBytes, "record-queue-bytes", rec.QueueBytes, "bound of the record queue in bytes; records it refuses when full are counted and logged")
	f.DurationVar(&rec.MaxAge, "record-retention", rec.MaxAge, "records older than this are deleted")
	f.Int64Var(&rec.MaxRecords, "record-max-records", rec.MaxRecords, "at most this many records of each kind (audit, event) are kept, the newest")
	f.StringVar(&rec.AuditPolicyFile, "audit-policy-file", "", "Kubernetes audit policy (audit.k8s.io/v1 Policy) saying which gateway requests are recorded (default: all but watches, discovery and health checks)")
	f.StringVar(&rec.AuditWebhookListen, "audit-webhook-listen", "", "HOST:PORT where the kube-apiserver's audit webhook backend sends the writes that did not come through the gateway (default: off)")
	f.StringVar(&rec.AuditWebhookCertFile, "audit-webhook-cert-file", "", "PEM serving certificate of --audit-webhook-listen")
	f.StringVar(&rec.AuditWebhookKeyFile, "audit-webhook-key-file", "", "PEM private key of --audit-webhook-cert-file")
	mo := &run.Metrics
	f.StringVar(&mo.Dir, "metrics-dir", "", "directory of the embedded metric store (Prometheus TSDB); default: none, monitoring off")
	f.DurationVar(&mo.Retention, "metrics-retention", mo.Retention, "samples older than this are deleted")
	f.Int64Var(&mo.MaxBytes, "metrics-max-bytes", 0, "the metric store's size bound in bytes: the oldest blocks go first (0: no bound)")
	f.DurationVar(&mo.Interval, "metrics-interval", mo.Interval, "how often the members whose monitoring is on are collected")
	f.IntVar(&mo.MaxPoints, "metrics-max-points", mo.MaxPoints, "a range query may return at most this many points per series (a larger range or smaller step is refused)")
	f.StringVar(&mo.RemoteWriteURL, "metrics-remote-write", "", "remote-write 1.0 URL that receives every collected sample from the leader, e.g. http://prometheus:9090/api/v1/write (Prometheus, Thanos receive, VictoriaMetrics)")
	f.StringVar(&mo.RemoteWriteTokenFile, "metrics-remote-write-token-file", "", "file holding the bearer token sent to --metrics-remote-write")
	al := &run.Alarms
	f.DurationVar(&al.GroupWait, "alarm-group-wait", al.GroupWait, "how long a new alarm waits for others of its policy before the first message, so they go out together")
	f.DurationVar(&al.GroupInterval, "alarm-group-interval", al.GroupInterval, "how long a policy's message waits before telling of alarms that fired or cleared after it")
	f.DurationVar(&al.RepeatInterval, "alarm-repeat-interval", al.RepeatInterval, "how often a still firing alarm is sent again (a policy's spec.repeatInterval overrides it)")
	f.IntVar(&al.MaxAttempts, "notify-max-attempts", al.MaxAttempts, "attempts of one delivery (with backoff) before it is marked failed")
	f.DurationVar(&al.MaxAge, "notify-max-age", al.MaxAge, "a delivery still failing this long after it was queued is marked failed")
	f.DurationVar(&al.PeriodUnit, "alarm-period-unit", al.PeriodUnit, "the length of one minute of an alarm policy's period (tests shorten it)")
	_ = f.MarkHidden("alarm-period-unit")
	rg := &run.Registry
	f.StringVar(&rg.Dir, "registry-dir", "", "directory the image registry (served at the gateway's /v2/) stores images in; default: none, the registry is off unless --registry-s3-bucket is set")
	f.StringVar(&rg.S3Bucket, "registry-s3-bucket", "", "store the registry's images in this S3 bucket instead of --registry-dir")
	f.StringVar(&rg.S3Endpoint, "registry-s3-endpoint", "", "URL of an S3-compatible service (MinIO, Ceph; path-style requests); default: AWS")
	f.StringVar(&rg.S3Region, "registry-s3-region", "", "the bucket's region (default us-east-1)")
	f.StringVar(&rg.S3RootDirectory, "registry-s3-root", "", "key prefix of the registry's objects in the bucket")
	f.StringVar(&rg.S3AccessKeyFile, "registry-s3-access-key-file", "", "file holding ACCESS_KEY:SECRET_KEY for the bucket (default: the AWS SDK's credential chain)")
	f.Int64Var(&rg.MaxManifestBytes, "registry-max-manifest-size", rg.MaxManifestBytes, "largest manifest a push may store, in bytes")
	f.Int64Var(&rg.MaxBlobBytes, "registry-max-blob-size", rg.MaxBlobBytes, "largest layer or other blob a push may store, in bytes")
	f.DurationVar(&rg.GCInterval, "registry-gc-interval", rg.GCInterval, "how often the leader deletes blobs no image references, while pushes go on (0: only on request, kstack registry gc)")
	f.DurationVar(&rg.GCGrace, "registry-gc-grace", rg.GCGrace, "blobs a client uploaded, checked or read this recently are never collected")
	f.DurationVar(&rg.PullRotation, "registry-pull-rotation", rg.PullRotation, "how often each project's pull credential (in its namespaces' kstack-registry pull secrets) is replaced")
	f.DurationVar(&rg.PullGrace, "registry-pull-grace", rg.PullGrace, "how long a replaced pull credential still works, while the members' pull secrets are rewritten")
	f.DurationVar(&rg.AppStaleAfter, "app-operation-stale-after", rg.AppStaleAfter, "a Helm application's install, upgrade or rollback that has not renewed for this long was interrupted (its replica stopped): the leader marks its pending release failed, so the next operation goes on")
	f.StringVar(&run.TestClockFile, "test-clock-file", "", "for tests only: the add-on controllers (CronHPA) read the time from this file (an RFC 3339 time the test writes and advances) instead of the system clock")
	_ = f.MarkHidden("test-clock-file")
	f.StringSliceVar(&run.Controllers, "controllers", []string{"*"}, "controllers to run: * for all, NAME to enable one, -NAME to disable one (e.g. *,-virtual-node-set); the controllers are "+strings.Join(platform.ControllerNames(), ", "))
	_ = runCmd.MarkFlagRequired("kubeconfig")
	_ = runCmd.MarkFlagRequired("tls-cert-file")
	_ = runCmd.MarkFlagRequired("tls-key-file")
	cmd.AddCommand(runCmd)
	return cmd
}

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/login"
	"github.com/kstack/kstack/internal/platform"
	"github.com/kstack/kstack/internal/printer"
)

const authPath = "/auth/apis/auth.tkestack.io/v1"

// PasswordEnv gives `kstack login` its password without a prompt.
const PasswordEnv = "KSTACK_PASSWORD"

// passwordStdinFlag adds the one spelling of "read the password from stdin".
func passwordStdinFlag(cmd *cobra.Command, p *bool, usage string) {
	cmd.Flags().BoolVar(p, "password-stdin", false, usage)
}

// readSecretInput reads a password: from stdin when asked, from env, or
// from the terminal without echo.
func readSecretInput(o *Options, fromStdin bool, env, prompt string) (string, error) {
	if fromStdin {
		return readLine(bufio.NewReader(o.In))
	}
	if env != "" {
		if v := os.Getenv(env); v != "" {
			return v, nil
		}
	}
	f, ok := o.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		if env == "" {
			return "", fmt.Errorf("no password given: use --password-stdin")
		}
		return "", fmt.Errorf("no password given: use --password-stdin or set %s", env)
	}
	fmt.Fprint(o.ErrOut, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(o.ErrOut)
	return string(b), err
}

func readLine(in *bufio.Reader) (string, error) {
	line, err := in.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newLoginCmd(o *Options) *cobra.Command {
	var server, caFile, tenant, username string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a kstack platform",
		Long: `Logs in through the platform's OpenID provider (authorization code with PKCE;
the CLI fills in the login form itself, so no browser is needed) and keeps the
tokens in ~/.config/kstack/login.json (or $KSTACK_CONFIG), readable only by you. Later
commands, and kubeconfigs from 'kstack kubeconfig', act as you and refresh the
tokens as needed. The password comes from --password-stdin, $KSTACK_PASSWORD, or a
prompt. On the platform's host, --server and the CA default to the data dir's.`,
		Example: `  kstack login --username alice
  kstack login --server https://kstack.example.com:8443 --certificate-authority ca.crt --username alice
  echo "$PW" | kstack login --tenant ldap-test --username jane --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var caPEM []byte
			if server == "" {
				ci, err := platform.ReadClientInfo(o.DataDir)
				if err != nil {
					return fmt.Errorf("--server is required (no platform in the data dir %s): %w", o.DataDir, err)
				}
				server = ci.Server
				if caFile == "" {
					caFile = ci.CAFile
				}
			}
			if caFile != "" {
				var err error
				if caPEM, err = os.ReadFile(caFile); err != nil {
					return fmt.Errorf("reading --certificate-authority: %w", err)
				}
			}
			pw, err := readSecretInput(o, passwordStdin, PasswordEnv, "Password: ")
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			lc, err := login.PasswordLogin(ctx, server, caPEM, tenant, username, pw)
			if err != nil {
				return err
			}
			if err := lc.Save(login.Path()); err != nil {
				return err
			}
			o.warn("Logged in to %s as %s (tenant %s)", lc.Server, lc.Username, lc.Tenant)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "the platform's URL (default: the platform in the data dir)")
	f.StringVar(&caFile, "certificate-authority", "", "PEM CA of the platform's certificate (default: the system's, or the data dir's)")
	f.StringVar(&tenant, "tenant", authv1.DefaultTenant, "tenant to log in to (its identity provider checks the password)")
	f.StringVar(&username, "username", "", "your account name, e.g. --username alice")
	passwordStdinFlag(cmd, &passwordStdin, "read the password from stdin (one line)")
	required(cmd, "username")
	return cmd
}

func newLogoutCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End your login: the platform revokes its session, and the login file is removed",
		Long: `Ends your login: the platform revokes the session (its refresh token stops
working everywhere, kubeconfigs of 'kstack kubeconfig' included) and the login
file is removed. Access keys stay valid until they expire or are deleted.`,
		Example: "  kstack logout",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := login.Path()
			lc, err := login.Load(path)
			if err != nil {
				return err
			}
			if err := lc.Logout(cmd.Context()); err != nil {
				return err
			}
			if err := os.Remove(path); err != nil {
				return err
			}
			o.warn("Logged out of %s", lc.Server)
			return nil
		},
	}
}

func newCredentialCmd(o *Options) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Print an ExecCredential for kubectl (the exec plugin of 'kstack kubeconfig')",
		Long: `Prints a client.authentication.k8s.io/v1 ExecCredential with a fresh access
token of your login, refreshing it when needed. kubeconfigs that 'kstack kubeconfig'
writes for a logged-in user run this.`,
		Example: `  kstack credential
  kstack credential --config /path/to/login.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				path = login.Path()
			}
			lc, err := login.Load(path)
			if err != nil {
				return err
			}
			tok, err := lc.Token(cmd.Context(), path)
			if err != nil {
				return err
			}
			return json.NewEncoder(o.Out).Encode(map[string]any{
				"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
				"status": map[string]any{"token": tok, "expirationTimestamp": lc.Expiry.UTC().Format(time.RFC3339)},
			})
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "login file (default ~/.config/kstack/login.json or $KSTACK_CONFIG)")
	return cmd
}

func newWhoamiCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the platform takes you for, and the policies you hold",
		Long: `Shows your username and tenant as the platform sees them, whether you are a
platform administrator, your groups (yours and those your identity provider
named), and the policies bound to you or your groups.`,
		Example: "  kstack whoami\n  kstack whoami -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			w, err := whoami(cmd.Context(), c)
			if err != nil {
				return err
			}
			return o.show(output, w, []string{"USERNAME", "TENANT", "ADMINISTRATOR", "GROUPS", "POLICIES"},
				[][]string{{w.Username, w.Tenant, fmt.Sprint(w.SuperAdmin), strings.Join(w.Groups, ","), strings.Join(w.Policies, ",")}})
		},
	}
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newPasswdCmd(o *Options) *cobra.Command {
	var user string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change your password (or, as an administrator, another user's)",
		Long: `Changes your password: asks for the old one and the new one (with
--password-stdin, reads them as two lines). Administrators set another user's
password with --user TENANT.NAME (one line: the new password). Other sessions of
the user end.`,
		Example: `  kstack passwd
  printf '%s\n%s\n' "$OLD" "$NEW" | kstack passwd --password-stdin
  echo 'N3w-Passw0rd-B' | kstack passwd --user default.bob --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var req authv1.PasswordRequest
			in := bufio.NewReader(o.In)
			read := func(prompt string) (string, error) {
				if stdin {
					return readLine(in)
				}
				return readSecretInput(o, false, "", prompt)
			}
			if user == "" {
				w, err := whoami(cmd.Context(), c)
				if err != nil {
					return err
				}
				user = authv1.ObjectName(w.Tenant, w.Username)
				if req.OldPassword, err = read("Old password: "); err != nil {
					return err
				}
			}
			if req.Password, err = read("New password: "); err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodPut, authPath+"/users/"+user+"/password", "", req, nil); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "password of user %s changed\n", user)
			return err
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user object (TENANT.NAME) whose password to set (administrators)")
	passwordStdinFlag(cmd, &stdin, "read the passwords from stdin, one a line")
	deprecatedAlias(cmd, "stdin", "password-stdin")
	return cmd
}

func newAdminCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Break-glass commands for whoever holds the platform's data dir",
		Long: `Commands that act with the data dir's own administrator credentials rather than
a login, for when no one can log in.`,
		Example: "  kstack admin reset-password --username admin",
	}
	var username string
	var stdin bool
	reset := &cobra.Command{
		Use:   "reset-password",
		Short: "Reset a default-tenant user's password with the data dir's credentials",
		Long: `Resets the password of a user of the default tenant (by default the
administrator, 'admin') using the data dir's admin credentials, unlocks the
account and ends its sessions. The reset is recorded as a PasswordReset Event on
the User (namespace default). Needs the platform running ('kstack up'). The new
password comes from --password-stdin or $KSTACK_ADMIN_PASSWORD, or is generated
and printed.`,
		Example: `  kstack admin reset-password --data-dir /var/lib/kstack
  echo 'N3w-Passw0rd' | kstack admin reset-password --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := openData(o, false)
			if err != nil {
				return err
			}
			_ = d
			pw := ""
			if stdin {
				if pw, err = readSecretInput(o, true, "", ""); err != nil {
					return err
				}
			} else {
				pw = os.Getenv(platform.AdminPasswordEnv)
			}
			generated := pw == ""
			if generated {
				pw = platform.GeneratePassword()
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if err := platform.ResetPassword(ctx, platform.AdminKubeconfigPath(o.DataDir), username, pw); err != nil {
				return err
			}
			if generated {
				_, err = fmt.Fprintf(o.Out, "New password of %s: %s\n", username, pw)
				return err
			}
			_, err = fmt.Fprintf(o.Out, "password of user %s reset\n", username)
			return err
		},
	}
	reset.Flags().StringVar(&username, "username", platform.AdminUsername, "account of the default tenant")
	passwordStdinFlag(reset, &stdin, "read the new password from stdin (one line)")
	cmd.AddCommand(reset)
	return cmd
}

// whoami asks the platform who the CLI's caller is.
func whoami(ctx context.Context, c *apiclient.Client) (*authv1.Whoami, error) {
	var w authv1.Whoami
	if err := c.Do(ctx, http.MethodGet, "/auth/whoami", "", nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

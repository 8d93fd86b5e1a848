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

// readSecretInput reads a password: from stdin when asked, from env, or
// from the terminal without echo.
func readSecretInput(fromStdin bool, env, prompt string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if env != "" {
		if v := os.Getenv(env); v != "" {
			return v, nil
		}
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", fmt.Errorf("no password given: use --password-stdin or set %s", env)
	}
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return string(b), err
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
			if username == "" {
				return fmt.Errorf("--username is required")
			}
			pw, err := readSecretInput(passwordStdin, PasswordEnv, "Password: ")
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
			fmt.Fprintf(os.Stderr, "Logged in to %s as %s (tenant %s)\n", lc.Server, lc.Username, lc.Tenant)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "the platform's URL (default: the platform in the data dir)")
	f.StringVar(&caFile, "certificate-authority", "", "PEM CA of the platform's certificate (default: the system's, or the data dir's)")
	f.StringVar(&tenant, "tenant", authv1.DefaultTenant, "tenant to log in to (its identity provider checks the password)")
	f.StringVar(&username, "username", "", "account name")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End your login: the platform revokes its session, and the login file is removed",
		Args:  cobra.NoArgs,
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
			fmt.Fprintf(os.Stderr, "Logged out of %s\n", lc.Server)
			return nil
		},
	}
}

func newCredentialCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Print an ExecCredential for kubectl (the exec plugin of 'kstack kubeconfig')",
		Long: `Prints a client.authentication.k8s.io/v1 ExecCredential with a fresh access
token of your login, refreshing it when needed. kubeconfigs that 'kstack kubeconfig'
writes for a logged-in user run this.`,
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
			return json.NewEncoder(os.Stdout).Encode(map[string]any{
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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			w, err := whoami(cmd.Context(), c)
			if err != nil {
				return err
			}
			return printer.Print(os.Stdout, output, w, []string{"USERNAME", "TENANT", "ADMINISTRATOR", "GROUPS", "POLICIES"},
				[][]string{{w.Username, w.Tenant, fmt.Sprint(w.SuperAdmin), strings.Join(w.Groups, ","), strings.Join(w.Policies, ",")}})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newPasswdCmd(o *Options) *cobra.Command {
	var user string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change your password (or, as an administrator, another user's)",
		Long: `Changes your password: asks for the old one and the new one (with --stdin,
reads them as two lines). Administrators set another user's password with --user
TENANT.NAME (one line: the new password). Other sessions of the user end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var req authv1.PasswordRequest
			in := bufio.NewReader(os.Stdin)
			read := func(prompt string) (string, error) {
				if stdin {
					line, err := in.ReadString('\n')
					if err != nil && !errors.Is(err, io.EOF) {
						return "", err
					}
					return strings.TrimRight(line, "\r\n"), nil
				}
				return readSecretInput(false, "", prompt)
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
			fmt.Fprintf(os.Stderr, "Password of %s changed\n", user)
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user object (TENANT.NAME) whose password to set (administrators)")
	cmd.Flags().BoolVar(&stdin, "stdin", false, "read the passwords from stdin, one a line")
	return cmd
}

func newAdminCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Break-glass commands for whoever holds the platform's data dir"}
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
				if pw, err = readSecretInput(true, "", ""); err != nil {
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
				fmt.Fprintf(os.Stdout, "New password of %s: %s\n", username, pw)
			} else {
				fmt.Fprintf(os.Stderr, "Password of %s reset\n", username)
			}
			return nil
		},
	}
	reset.Flags().StringVar(&username, "username", platform.AdminUsername, "account of the default tenant")
	reset.Flags().BoolVar(&stdin, "password-stdin", false, "read the new password from stdin")
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

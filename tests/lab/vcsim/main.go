// Command vcsim serves a simulated vCenter (vSphere API 6.5, govmomi's
// simulator) populated from a JSON inventory, for the collection's lab tests.
//
// See README.md for the command line contract and the inventory schema.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

type options struct {
	listen, username, passwordFile string
	password                       string
	certFile, keyFile              string
	inventory, stateDir            string
	wsdlFile, instanceUUID         string
	nfcLeaseTimeout                time.Duration
	nfcExportFormat                string
	cbtWindow                      int64
	dumpDefaultInventory           bool
}

// errUsage reports a command line error that has already been printed.
var errUsage = errors.New("usage error")

func main() {
	log.SetPrefix("vcsim: ")
	opts, err := parseFlags(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		log.Fatal(err)
	}
}

func parseFlags(args []string) (*options, error) {
	var o options
	fs := flag.NewFlagSet("vcsim", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:17443", "host:port to serve HTTPS on")
	fs.StringVar(&o.username, "username", "", "the only user allowed to log in")
	// A file, not a flag value: a password on the command line shows in ps and in logs.
	fs.StringVar(&o.passwordFile, "password-file", "", "file holding that user's password")
	fs.StringVar(&o.certFile, "cert", "", "PEM certificate for TLS")
	fs.StringVar(&o.keyFile, "key", "", "PEM private key for TLS")
	fs.StringVar(&o.inventory, "inventory", "", "inventory JSON file (default: the built-in lab inventory)")
	fs.BoolVar(&o.dumpDefaultInventory, "dump-default-inventory", false, "print the built-in inventory and exit")
	fs.StringVar(&o.stateDir, "state-dir", "", "directory backing the datastores (default: a temporary one)")
	fs.StringVar(&o.wsdlFile, "wsdl", "", "vim25 WSDL file to serve at /sdk/vimService.wsdl (default: none, as 0.24)")
	fs.StringVar(&o.instanceUUID, "instance-uuid", "", "the vCenter's about.instanceUuid (default: govmomi's fixed one)")
	fs.DurationVar(&o.nfcLeaseTimeout, "nfc-lease-timeout", nfcLeaseTimeout,
		"how long an ExportVm lease lives without an HttpNfcLeaseProgress (vCenter: 5m)")
	fs.StringVar(&o.nfcExportFormat, "nfc-export-format", nfcExportFormat,
		"what an ExportVm lease serves per disk: streamOptimized (a VMDK, as vCenter) or raw (the disk's bytes)")
	fs.Int64Var(&o.cbtWindow, "cbt-window", cbtWindow,
		"bytes of a disk one QueryChangedDiskAreas answer covers (a multiple of 65536)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage // the flag package has printed it
	}
	usageError := func(format string, args ...interface{}) error {
		fmt.Fprintf(fs.Output(), "vcsim: "+format+"\n", args...)
		fs.Usage()
		return errUsage
	}
	if o.nfcLeaseTimeout < time.Second {
		return nil, usageError("--nfc-lease-timeout must be at least 1s")
	}
	if o.nfcExportFormat != formatStreamOptimized && o.nfcExportFormat != formatRaw {
		return nil, usageError("--nfc-export-format must be %s or %s", formatStreamOptimized, formatRaw)
	}
	if o.cbtWindow <= 0 || o.cbtWindow%grainBytes != 0 {
		return nil, usageError("--cbt-window must be a positive multiple of %d", grainBytes)
	}
	if fs.NArg() > 0 {
		return nil, usageError("unexpected arguments: %v", fs.Args())
	}
	if o.dumpDefaultInventory {
		return &o, nil
	}
	required := []struct{ name, value string }{
		{"username", o.username}, {"password-file", o.passwordFile}, {"cert", o.certFile}, {"key", o.keyFile},
	}
	for _, r := range required {
		if r.value == "" {
			return nil, usageError("--%s is required", r.name)
		}
	}
	secret, err := os.ReadFile(o.passwordFile)
	if err != nil {
		return nil, usageError("cannot read the password file: %v", err)
	}
	o.password = strings.TrimRight(string(secret), "\r\n")
	if o.password == "" {
		return nil, usageError("the password file %s is empty", o.passwordFile)
	}
	return &o, nil
}

func run(o *options) error {
	if o.dumpDefaultInventory {
		_, err := os.Stdout.Write(defaultInventoryJSON)
		return err
	}

	// Everything that can fail on bad input is checked before the listener
	// is opened, so a caller waiting for READY gets an error and exit 1.
	inv, err := loadInventory(o.inventory)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return fmt.Errorf("loading TLS key pair: %w", err)
	}
	wsdl, err := loadWSDL(o.wsdlFile)
	if err != nil {
		return err
	}
	stateDir, cleanup, err := prepareStateDir(o.stateDir)
	if err != nil {
		return err
	}
	defer cleanup()

	model, err := newModel(inv, filepath.Join(stateDir, "datastores"))
	if err != nil {
		return err
	}
	defer model.Remove()
	nfcLeaseTimeout = o.nfcLeaseTimeout
	nfcExportFormat = o.nfcExportFormat
	cbtWindow = o.cbtWindow
	if err := setInstanceUUID(o.instanceUUID); err != nil {
		return err
	}

	listener, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	server := newServer(model.Service, listener, cert, url.UserPassword(o.username, o.password))
	wsdl.serve(model.Service.ServeMux)
	serveDatastoreFiles(model.Service.ServeMux, model.Service)
	server.Handler = wsdl.acceptZonelessDateTimes(server.Handler)
	return serve(server, listener)
}

// newModel starts an empty vCenter model and builds inv into it.
func newModel(inv *Inventory, datastoreDir string) (*simulator.Model, error) {
	// The simulator only keeps datastore files (VM directories) here; a
	// leftover tree from an earlier run would make it rename new VMs.
	if err := os.RemoveAll(datastoreDir); err != nil {
		return nil, err
	}

	model := simulator.VPX()
	model.Datacenter = 0 // no generated inventory: ours replaces it
	if err := model.Create(); err != nil {
		return nil, err
	}
	if err := buildInventory(context.Background(), model.Service, inv, datastoreDir); err != nil {
		model.Remove()
		return nil, fmt.Errorf("building inventory: %w", err)
	}
	return model, nil
}

// prepareStateDir returns the directory to keep simulator files in and a
// function that removes it if, and only if, it was created here.
func prepareStateDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o700)
	}
	dir, err := os.MkdirTemp("", "vcsim-state-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// serve announces readiness on stdout and serves until SIGINT or SIGTERM.
func serve(server *http.Server, listener net.Listener) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	served := make(chan error, 1)
	go func() { served <- server.ServeTLS(listener, "", "") }()

	// Connections are accepted into the listen queue from here on, so the
	// announcement cannot race the server goroutine. os.Stdout is unbuffered.
	fmt.Printf("VCSIM READY https://%s/sdk\n", listener.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Print("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// Command sync runs one multinic pass without Kubernetes. With no flags it
// starts the in-process fakes (Contrabass, OpenStack, Viola) with the sample
// topology; with -contrabass and friends it talks to real services.
//
//	go run ./examples/sync
//	go run ./examples/sync -contrabass https://contrabass:8443 -viola http://viola:8080 \
//	    -provider P -project PR -subnet S -vm UUID1,UUID2   (key from CONTRABASS_ENCRYPT_KEY)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/viola"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sync:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	contrabassURL := fs.String("contrabass", "", "Contrabass endpoint; empty runs against in-process fakes")
	violaURL := fs.String("viola", "", "Viola endpoint")
	provider := fs.String("provider", "", "Contrabass provider ID")
	project := fs.String("project", "", "OpenStack project ID")
	subnets := fs.String("subnet", "", "target subnet IDs, comma-separated, in priority order")
	vms := fs.String("vm", "", "VM UUIDs, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var cfg multinic.Config
	if *contrabassURL == "" {
		env := multinictest.NewEnv()
		defer env.Close()
		sample := env.AddSample()
		cfg = env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
		fmt.Fprintln(out, "using in-process fakes with the sample topology (3 VMs, 2 target subnets)")
	} else {
		cfg = multinic.Config{
			ProviderID: *provider,
			ProjectID:  *project,
			VMIDs:      split(*vms),
			SubnetIDs:  split(*subnets),
			EncryptKey: getenv("CONTRABASS_ENCRYPT_KEY"),
			Contrabass: contrabass.Options{Endpoint: *contrabassURL},
			Viola:      viola.Options{Endpoint: *violaURL},
		}
	}

	res, err := multinic.Sync(ctx, cfg)
	if e := (*multinic.Error)(nil); errors.As(err, &e) {
		// The library names its settings as Config fields; this command
		// names its own flags instead.
		return errors.New(e.Message(flagNames))
	} else if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent %d node configs, %d unchanged, %d VMs skipped, %d DOWN ports\n", len(res.Sent), len(res.Unchanged), len(res.Skipped), len(res.DownPorts))
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(res.Nodes)
}

// flagNames are this command's names of the library's settings.
var flagNames = multinic.Names{
	multinic.SettingContrabassEndpoint: "-contrabass",
	multinic.SettingViolaEndpoint:      "-viola",
	multinic.SettingProviderID:         "-provider",
	multinic.SettingProjectID:          "-project",
	multinic.SettingSubnetIDs:          "-subnet",
	multinic.SettingVMIDs:              "-vm",
	multinic.SettingEncryptKey:         "CONTRABASS_ENCRYPT_KEY",
}

func split(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

package multinic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// reads is what a pass reads from Neutron and Nova, with the failures as
// they came: they become errors of the pass (reasons, settings to check,
// secrets masked) only in collect, once the pass knows its session is the
// right one and every secret to mask.
type reads struct {
	vmIDs          []string
	portsByVM      map[string][]openstack.Port
	portsErr       error
	targets        map[string]*target
	skippedSubnets []SkippedSubnet
	targetsErr     error
	servers        map[string]openstack.Server
	serverErrs     map[string]error
	serversErr     error
}

// read reads Neutron and Nova concurrently with session.
func (p *pass) read(ctx context.Context, session *openstack.Session) reads {
	r := reads{vmIDs: dedupe(p.cfg.VMIDs)}
	var wg sync.WaitGroup
	// Each goroutine recovers its own panic: an unrecovered one would end
	// the process, not just this pass.
	wg.Go(func() {
		r.portsErr = recovered.Call(func() (err error) {
			r.portsByVM, err = session.PortsByVM(ctx, r.vmIDs)
			return err
		})
	})
	wg.Go(func() {
		r.targetsErr = recovered.Call(func() (err error) {
			r.targets, r.skippedSubnets, err = p.readTargets(ctx, session)
			return err
		})
	})
	wg.Go(func() {
		r.serversErr = recovered.Call(func() (err error) {
			r.servers, r.serverErrs, err = session.ServersAt(ctx, r.vmIDs, p.cfg.now())
			return err
		})
	})
	wg.Wait()
	return r
}

// resolveTargets is readTargets with the pass's session, its failure
// classified (Check's subnets step).
func (p *pass) resolveTargets(ctx context.Context) (map[string]*target, []SkippedSubnet, *Error) {
	targets, skipped, err := p.readTargets(ctx, p.session)
	if err != nil {
		return nil, nil, p.subnetError(ctx, err)
	}
	return targets, skipped, nil
}

// readTargets reads the target subnets and their networks' MTUs. A subnet
// whose network reports no usable MTU stays a target, marked unusable, so
// that its ports are recognised and reported rather than silently ignored;
// it contributes no interfaces.
//
// The subnets' networks are read in the same round trip as the subnets: a
// subnet's network never changes, so a pass reads the networks its
// selectors were on last time; a pass without that memory lists the MTUs
// of the project's networks, where target subnets usually are. Only a
// network that was not read so (guessed wrong, or another project's shared
// network) is read after the subnets answered, as it always was before.
func (p *pass) readTargets(ctx context.Context, session *openstack.Session) (map[string]*target, []SkippedSubnet, error) {
	neutron, err := session.NeutronEndpoint()
	if err != nil {
		return nil, nil, err
	}
	ids := p.cfg.targetSubnetIDs()
	selectors := ids
	if len(ids) == 0 {
		selectors = []string{"name:" + p.cfg.ProjectID + "/" + p.cfg.SubnetName}
	}
	var guessed []string
	for _, sel := range selectors {
		if n := p.guessNetwork(neutron + " " + sel); n != "" && !slices.Contains(guessed, n) {
			guessed = append(guessed, n)
		}
	}
	known := map[string]int{}    // network → MTU, read alongside the subnets
	failed := map[string]error{} // network → why it could not be read
	var (
		subnets    []openstack.Subnet
		subnetErrs []error // by subnet, in the order of subnets
		listErr    error
		wg         sync.WaitGroup
	)
	wg.Go(func() {
		if len(ids) > 0 {
			subnets, subnetErrs = fetchEachErr(ctx, ids, session.Subnet)
			return
		}
		var sn openstack.Subnet
		err := recovered.Call(func() (err error) {
			sn, err = session.SubnetByName(ctx, p.cfg.SubnetName)
			return err
		})
		subnets, subnetErrs = []openstack.Subnet{sn}, []error{err}
	})
	wg.Go(func() {
		if len(guessed) < len(selectors) {
			listErr = recovered.Call(func() (err error) {
				known, err = session.ProjectNetworkMTUs(ctx)
				return err
			})
			return
		}
		mtus, errs := fetchEachErr(ctx, guessed, session.NetworkMTU)
		for i, n := range guessed {
			if errs[i] != nil {
				failed[n] = errs[i]
			} else {
				known[n] = mtus[i]
			}
		}
	})
	wg.Wait()
	// A subnet that cannot be read is left out and reported, and the others
	// are used (SPEC §5); only when none is left, or the pass is out of
	// time, does the pass fail with the subnets' reason.
	readable := 0
	for _, err := range subnetErrs {
		if err == nil {
			readable++
		}
	}
	if readable == 0 || (readable < len(subnets) && ctx.Err() != nil) {
		return nil, nil, errors.Join(subnetErrs...)
	}
	if listErr != nil {
		return nil, nil, listErr // the read of the networks failed, as a GET of one would
	}
	var missing []string
	for i, sn := range subnets {
		if subnetErrs[i] != nil {
			continue
		}
		_, ok := known[sn.NetworkID]
		if !ok && failed[sn.NetworkID] == nil && !slices.Contains(missing, sn.NetworkID) {
			missing = append(missing, sn.NetworkID)
		}
		if p.networkGuesses != nil {
			p.networkGuesses.Store(neutron+" "+selectors[min(i, len(selectors)-1)], sn.NetworkID)
		}
	}
	mtus, errs := fetchEachErr(ctx, missing, session.NetworkMTU)
	for i, n := range missing {
		if errs[i] != nil {
			failed[n] = errs[i]
		} else {
			known[n] = mtus[i]
		}
	}
	targets := make(map[string]*target, len(subnets))
	var skipped []SkippedSubnet
	var bad []error
	for i, sn := range subnets {
		t := &target{priority: i, subnet: sn, mtu: known[sn.NetworkID]}
		err := subnetErrs[i]
		if err == nil && failed[sn.NetworkID] != nil {
			err = fmt.Errorf("its network %s: %w", sn.NetworkID, failed[sn.NetworkID])
		}
		switch {
		case err != nil:
			if t.subnet.ID == "" {
				t.subnet.ID = ids[i] // a subnet read by name never gets here
			}
			t.unreadable = safeText(err, p.secrets)
			kind := KindUnreadable
			if errors.Is(err, openstack.ErrSubnetNotFound) {
				kind = KindMissing
			}
			skipped = append(skipped, SkippedSubnet{SubnetID: t.subnet.ID, NetworkID: sn.NetworkID, Reason: t.unreadable, Kind: kind})
			bad = append(bad, err)
		default:
			t.unusable = mtuProblem(sn.NetworkID, t.mtu)
			if t.unusable != "" {
				skipped = append(skipped, SkippedSubnet{SubnetID: sn.ID, NetworkID: sn.NetworkID, Reason: t.unusable, Kind: KindUnusableMTU})
			}
		}
		targets[t.subnet.ID] = t
	}
	if len(bad) == len(subnets) || (len(bad) > 0 && ctx.Err() != nil) {
		return nil, nil, errors.Join(bad...) // no target subnet is left
	}
	return targets, skipped, nil
}

// mtuProblem says why a network's MTU cannot be sent: the node agent skips
// an interface without one or outside 68-9000, and guessing one could break
// the link (SPEC §5).
func mtuProblem(networkID string, mtu int) string {
	switch {
	case mtu == 0:
		return fmt.Sprintf("network %s reports no MTU", networkID)
	case mtu < viola.MinMTU || mtu > viola.MaxMTU:
		return fmt.Sprintf("network %s reports MTU %d, outside %d-%d", networkID, mtu, viola.MinMTU, viola.MaxMTU)
	}
	return ""
}

// guessNetwork is the network a subnet selector was on last time, or "".
func (p *pass) guessNetwork(key string) string {
	if p.networkGuesses == nil {
		return ""
	}
	n, _ := p.networkGuesses.Load(key)
	id, _ := n.(string)
	return id
}

// fetchEachErr reads every id concurrently (target subnets and networks
// are a handful) and returns the results, and each id's error, in the
// order of ids.
func fetchEachErr[T any](ctx context.Context, ids []string, get func(context.Context, string) (T, error)) ([]T, []error) {
	out := make([]T, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			errs[i] = recovered.Call(func() (err error) {
				out[i], err = get(ctx, id)
				return err
			})
		})
	}
	wg.Wait()
	return out, errs
}

// subnetError classifies a failure to resolve the target subnets, naming
// the selector in use: a name that matches nothing or several subnets is
// corrected differently from an ID that is gone.
func (p *pass) subnetError(ctx context.Context, err error) *Error {
	var e *Error
	switch {
	case errors.Is(err, openstack.ErrSubnetNotUnique):
		e = p.failAs(ctx, ReasonSubnetNotUnique, stepSubnets, err)
	case errors.Is(err, openstack.ErrSubnetNotFound):
		e = p.failAs(ctx, ReasonSubnetNotFound, stepSubnets, err)
	default:
		return p.fail(ctx, stepSubnets, err)
	}
	if e.Setting == "" { // no deadline or connection advice took the place
		e.Setting, e.Kind = p.cfg.subnetSelector(), KindMissing
		if errors.Is(err, openstack.ErrSubnetNotUnique) {
			e.Kind = KindInvalid
		}
	}
	return e
}

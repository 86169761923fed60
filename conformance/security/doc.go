// Package security is hopguard's security and reliability suite: `go test ./conformance/security`
// brings the whole environment up once (real Cerbos and Envoy, synapse, the STS and the mock
// upstreams) and proves, behind every gateway that runs here, that
//   - no request of the bypass corpus (package bypass) gets an unauthorised action through;
//   - every decision is audited: N requests give N synapse records and one Cerbos decision-log
//     entry for each that asked Cerbos;
//   - every fault (Cerbos killed, restarted or hung past synapse's timeout, synapse restarted,
//     the STS gone) denies under traffic, lets nothing forbidden through, and heals by itself;
//     a revoked task stays revoked across a synapse restart;
//   - synapse runs highly available (TestHighAvailability, in an environment of its own with two
//     replicas sharing one task registry in PostgreSQL): a task revoked through one replica is
//     denied at the next hop through another; a replica killed under traffic lets nothing
//     forbidden through and leaves no request unanswered; PostgreSQL stopped under traffic fails
//     task-bound checks closed, recovers by itself and loses no revocation.
//
// The results go to out/conformance/security.md and security.json; SECURITY.md at the
// repository root explains the threat model behind them.
package security

// Package responsepathtest checks, for the gateway configs' tests, how Envoy and Istio run the
// response path: ext_proc behind a matcher that skips it for every request without synapse's
// grant header, so that only an allowed list opens a stream to synapse.
package responsepathtest

import (
	"testing"

	matchingv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/matching/v3"
	actionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/matcher/action/v3"
	extprocfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
)

// GrantHeader is the header ext_authz seals an allowed list's grant into (synapse/respond).
const GrantHeader = "x-hopguard-grant"

// GrantedOnly unwraps the response path filter's typed config and checks its matcher: a request
// without the grant header skips the filter, any other runs it. It returns the ext_proc config.
func GrantedOnly(t *testing.T, config *anypb.Any) *extprocfilter.ExternalProcessor {
	t.Helper()
	wrapped := &matchingv3.ExtensionWithMatcher{}
	require.NoError(t, config.UnmarshalTo(wrapped), "ext_proc is wrapped in a matcher")
	matchers := wrapped.GetXdsMatcher().GetMatcherList().GetMatchers()
	require.Len(t, matchers, 1)
	absent := matchers[0].GetPredicate().GetNotMatcher().GetSinglePredicate()
	require.NotNil(t, absent, "the one matcher is: not (the header is present)")
	header := &matcherv3.HttpRequestHeaderMatchInput{}
	require.NoError(t, absent.GetInput().GetTypedConfig().UnmarshalTo(header))
	assert.Equal(t, GrantHeader, header.GetHeaderName())
	assert.Equal(t, ".*", absent.GetValueMatch().GetSafeRegex().GetRegex(), "any value is a grant: only its absence skips")
	assert.True(t, matchers[0].GetOnMatch().GetAction().GetTypedConfig().MessageIs(&actionv3.SkipFilter{}), "a request without the grant skips the filter")
	assert.Nil(t, wrapped.GetXdsMatcher().GetOnNoMatch(), "a request with it runs the filter")
	assert.Equal(t, "envoy.filters.http.ext_proc", wrapped.GetExtensionConfig().GetName())
	proc := &extprocfilter.ExternalProcessor{}
	require.NoError(t, wrapped.GetExtensionConfig().GetTypedConfig().UnmarshalTo(proc))
	return proc
}

namespace Keys.Gateway;

/// <summary>
/// The gateway's own settings (section <c>Gateway</c>). How keys are checked (KeyValidation's address, the near cache,
/// the invalid-key throttle) is section <c>ApiKeys</c>, <see cref="Keys.AspNetCore.ApiKeyValidationOptions"/>.
/// </summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>
    /// Addresses of reverse proxies (load balancers) whose <c>X-Forwarded-For</c> names the client. Empty, with
    /// <see cref="TrustedNetworks"/> empty: the header is ignored, and the client is the connection's address.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>CIDR ranges (e.g. <c>10.0.0.0/8</c>) of such proxies.</summary>
    public string[] TrustedNetworks { get; set; } = [];

    /// <summary>Origins whose browser apps may call routes that allow CORS (with publishable keys).</summary>
    public string[] CorsAllowedOrigins { get; set; } = [];

    /// <summary>
    /// False leaves the key check out of the proxy's pipeline entirely, headers' stripping included: plain YARP, for
    /// benchmarks and diagnosis (what the check costs). Refused in the Production environment, and every route must
    /// then be open (<c>KeyTypes: none</c>): a route that needs a key is refused when the configuration loads, at start
    /// or on a reload, so a forgotten switch can never open a keyed route.
    /// </summary>
    public bool KeyChecks { get; set; } = true;

    /// <summary>The environment that a benchmark's gateway runs in, the only one besides Development where key checks may be off.</summary>
    public const string BenchmarkEnvironment = "Benchmark";

    /// <summary>
    /// Key checks may be off only where no client is: Development and <see cref="BenchmarkEnvironment"/>. An allowlist,
    /// not "anything but Production": a Staging or a custom-named environment faces clients too, and with the check
    /// left out, identity headers they send would reach the upstream.
    /// </summary>
    public static bool KeyChecksSettingAllowed(bool keyChecks, string environmentName) =>
        keyChecks
        || string.Equals(environmentName, "Development", StringComparison.OrdinalIgnoreCase)
        || string.Equals(environmentName, BenchmarkEnvironment, StringComparison.OrdinalIgnoreCase);
}

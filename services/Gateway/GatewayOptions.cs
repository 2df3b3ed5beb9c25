using System.ComponentModel.DataAnnotations;

namespace Keys.Gateway;

public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>KeyValidation's gRPC endpoint; service discovery resolves the name.</summary>
    [Required]
    public Uri KeyValidationAddress { get; set; } = new("http://_grpc.key-validation");

    /// <summary>Past this, a key check fails closed with 503.</summary>
    public TimeSpan ValidationTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest a valid key stays in gateway memory, however quiet the invalidation stream is.</summary>
    public TimeSpan NearCacheMaxAge { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A Watch stream silent for longer is taken for dead: the near cache is flushed and the stream reopened.
    /// KeyValidation heartbeats every second.
    /// </summary>
    public TimeSpan WatchSilenceTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>At most this many keys in gateway memory.</summary>
    [Range(1, 10_000_000)]
    public int NearCacheMaxEntries { get; set; } = 100_000;

    /// <summary>Invalid keys one client address may send per window before it gets 429.</summary>
    [Range(1, int.MaxValue)]
    public int InvalidKeyLimit { get; set; } = 30;

    public TimeSpan InvalidKeyWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// At most this many client addresses (IPv6: /64s) are counted apart; beyond it, new ones share one allowance, so
    /// that rotating addresses cannot exhaust gateway memory.
    /// </summary>
    [Range(1, 10_000_000)]
    public int InvalidKeyMaxAddresses { get; set; } = 100_000;

    /// <summary>
    /// Addresses of reverse proxies (load balancers) whose <c>X-Forwarded-For</c> names the client. Empty, with
    /// <see cref="TrustedNetworks"/> empty: the header is ignored, and the client is the connection's address.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>CIDR ranges (e.g. <c>10.0.0.0/8</c>) of such proxies.</summary>
    public string[] TrustedNetworks { get; set; } = [];

    /// <summary>Origins whose browser apps may call routes that allow CORS (with publishable keys).</summary>
    public string[] CorsAllowedOrigins { get; set; } = [];
}

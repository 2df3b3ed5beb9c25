using System.Runtime.CompilerServices;
using Keys.ApiKeys;
using Yarp.ReverseProxy.Configuration;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Which key types a route accepts, from its YARP metadata <c>"KeyTypes"</c>: <c>"none"</c> (an open route),
/// <c>"secret"</c>, <c>"publishable"</c>, or both comma-separated. A route that says nothing needs a key of either type:
/// forgetting the metadata must not open a route.
/// </summary>
public sealed class RoutePolicy
{
    public const string MetadataKey = "KeyTypes";

    /// <summary>Metadata naming the route value that is the scope resource (e.g. <c>table</c> for <c>/v1/data/{table}</c>).</summary>
    public const string ScopeResourceKey = "ScopeResourceFrom";

    private static readonly ConditionalWeakTable<RouteConfig, RoutePolicy> Cache = [];

    public static readonly RoutePolicy Open = new(requiresKey: false, acceptsPublishable: false, acceptsSecret: false);
    public static readonly RoutePolicy AnyKey = new(requiresKey: true, acceptsPublishable: true, acceptsSecret: true);

    private RoutePolicy(bool requiresKey, bool acceptsPublishable, bool acceptsSecret, string? scopeResourceFrom = null)
    {
        RequiresKey = requiresKey;
        AcceptsPublishable = acceptsPublishable;
        AcceptsSecret = acceptsSecret;
        ScopeResourceFrom = scopeResourceFrom;
    }

    /// <summary>The route value whose value is the resource that scopes are checked against; null: no scope check.</summary>
    public string? ScopeResourceFrom { get; }

    public bool RequiresKey { get; }

    public bool AcceptsPublishable { get; }

    public bool AcceptsSecret { get; }

    public bool Accepts(ApiKeyType type) => type == ApiKeyType.Secret ? AcceptsSecret : AcceptsPublishable;

    // YARP builds a new RouteConfig on every configuration change, so caching by instance never serves a stale policy.
    public static RoutePolicy For(RouteConfig route) => Cache.GetValue(route, static r => Parse(r.Metadata));

    public static RoutePolicy Parse(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || !metadata.TryGetValue(MetadataKey, out var value))
        {
            return AnyKey;
        }

        var scopeResourceFrom = metadata.TryGetValue(ScopeResourceKey, out var from) && from.Length > 0 ? from : null;

        var publishable = false;
        var secret = false;
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            switch (part.ToLowerInvariant())
            {
                case "none":
                    return Open;
                case ApiKeyTypes.PublishableName:
                    publishable = true;
                    break;
                case ApiKeyTypes.SecretName:
                    secret = true;
                    break;
                default:
                    throw new InvalidOperationException($"Route metadata {MetadataKey} '{value}' is not 'none', 'publishable' or 'secret'.");
            }
        }

        return new RoutePolicy(true, publishable || !secret, secret || !publishable, scopeResourceFrom);
    }
}

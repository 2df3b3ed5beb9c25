using System.Runtime.CompilerServices;
using Keys.ApiKeys;
using Yarp.ReverseProxy.Configuration;

namespace Keys.Gateway.Authentication;

/// <summary>
/// What a route demands of a key, from its YARP metadata. <c>"KeyTypes"</c>: <c>"none"</c> (an open route),
/// <c>"secret"</c>, <c>"publishable"</c>, or both comma-separated; a route that says nothing needs a key of either
/// type: forgetting the metadata must not open a route. The scope a request needs comes from
/// <c>"ScopeResourceFrom"</c> or <c>"Scope"</c>; a route with neither admits only keys without scopes.
/// </summary>
public sealed class RoutePolicy
{
    public const string MetadataKey = "KeyTypes";

    /// <summary>Metadata naming the route value that is the scope resource (e.g. <c>table</c> for <c>/v1/data/{table}</c>).</summary>
    public const string ScopeResourceKey = "ScopeResourceFrom";

    /// <summary>
    /// Metadata naming the scope a route needs: a resource (<c>orders</c>, the operation coming from the method) or a
    /// whole scope (<c>orders:read</c>, whatever the method).
    /// </summary>
    public const string ScopeKey = "Scope";

    private static readonly ConditionalWeakTable<RouteConfig, RoutePolicy> Cache = [];

    public static readonly RoutePolicy Open = new(requiresKey: false, acceptsPublishable: false, acceptsSecret: false);
    public static readonly RoutePolicy AnyKey = new(requiresKey: true, acceptsPublishable: true, acceptsSecret: true);

    private RoutePolicy(
        bool requiresKey,
        bool acceptsPublishable,
        bool acceptsSecret,
        string? scopeResourceFrom = null,
        string? scopeResource = null,
        string? scopeOperation = null)
    {
        RequiresKey = requiresKey;
        AcceptsPublishable = acceptsPublishable;
        AcceptsSecret = acceptsSecret;
        ScopeResourceFrom = scopeResourceFrom;
        ScopeResource = scopeResource;
        ScopeOperation = scopeOperation;
    }

    /// <summary>The route value whose value is the resource that scopes are checked against.</summary>
    public string? ScopeResourceFrom { get; }

    /// <summary>The resource a fixed <c>Scope</c> names.</summary>
    public string? ScopeResource { get; }

    /// <summary>The operation a fixed <c>Scope</c> names; null: the request's method decides.</summary>
    public string? ScopeOperation { get; }

    /// <summary>False when the route names no scope: then only keys without scopes may call it.</summary>
    public bool NamesScope => ScopeResourceFrom is not null || ScopeResource is not null;

    public bool RequiresKey { get; }

    public bool AcceptsPublishable { get; }

    public bool AcceptsSecret { get; }

    public bool Accepts(ApiKeyType type) => type == ApiKeyType.Secret ? AcceptsSecret : AcceptsPublishable;

    // YARP builds a new RouteConfig on every configuration change, so caching by instance never serves a stale policy.
    public static RoutePolicy For(RouteConfig route) => Cache.GetValue(route, static r => Parse(r.Metadata));

    public static RoutePolicy Parse(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return AnyKey;
        }

        var publishable = false;
        var secret = false;
        if (metadata.TryGetValue(MetadataKey, out var value))
        {
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
        }

        var scopeResourceFrom = metadata.TryGetValue(ScopeResourceKey, out var from) && from.Length > 0 ? from : null;
        var (scopeResource, scopeOperation) = metadata.TryGetValue(ScopeKey, out var scope) && scope.Length > 0 ? ParseScope(scope) : (null, null);
        if (scopeResourceFrom is not null && scopeResource is not null)
        {
            throw new InvalidOperationException($"Route metadata names both {ScopeResourceKey} and {ScopeKey}; a route's scope comes from one of them.");
        }

        return new RoutePolicy(true, publishable || !secret, secret || !publishable, scopeResourceFrom, scopeResource, scopeOperation);
    }

    // A route names one resource, and one operation or none; a wildcard would let any key with a matching wildcard
    // scope in, which no route means.
    private static (string Resource, string? Operation) ParseScope(string scope)
    {
        var colon = scope.IndexOf(':');
        var resource = colon < 0 ? scope : scope[..colon];
        var operation = colon < 0 ? null : scope[(colon + 1)..];
        if (resource == "*" || !Scopes.IsValidResource(resource) || (operation is not null && !Scopes.Operations.Contains(operation)))
        {
            throw new InvalidOperationException(
                $"Route metadata {ScopeKey} '{scope}' is not a resource name or resource:operation (operation one of {string.Join(", ", Scopes.Operations)}).");
        }

        return (resource, operation);
    }
}

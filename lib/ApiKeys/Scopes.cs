namespace Keys.ApiKeys;

/// <summary>
/// Scopes read <c>{resource}:{operation}</c>: resource is a name or <c>*</c>; operation is one of read, create,
/// update, delete or <c>*</c>. A secret key without scopes is limited only by its type; a publishable key without
/// scopes may only read (<see cref="PublishableDefault"/>). A key with scopes passes only routes that name the scope
/// they need.
/// </summary>
public static class Scopes
{
    public const int MaxResourceLength = 64;

    public static readonly IReadOnlyList<string> Operations = ["read", "create", "update", "delete"];

    /// <summary>
    /// What a publishable key created without scopes may do: read. Its value ships inside apps anyone can open, so
    /// writing is granted only by naming scopes at creation.
    /// </summary>
    public static readonly IReadOnlyList<string> PublishableDefault = ["*:read"];

    public static bool IsValid(string? scope)
    {
        if (scope is null)
        {
            return false;
        }

        var colon = scope.IndexOf(':');
        if (colon <= 0)
        {
            return false;
        }

        var resource = scope.AsSpan(0, colon);
        var operation = scope[(colon + 1)..];
        return IsValidResource(resource) && (operation == "*" || Operations.Contains(operation));
    }

    public static bool IsValidResource(ReadOnlySpan<char> resource)
    {
        if (resource is "*")
        {
            return true;
        }

        if (resource.IsEmpty || resource.Length > MaxResourceLength)
        {
            return false;
        }

        foreach (var c in resource)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The operation an HTTP method performs: GET read, POST create, PUT and PATCH update, DELETE delete.</summary>
    public static string? OperationOf(string httpMethod) => httpMethod switch
    {
        "GET" or "HEAD" => "read",
        "POST" => "create",
        "PUT" or "PATCH" => "update",
        "DELETE" => "delete",
        _ => null,
    };

    /// <summary>
    /// Whether a key of <paramref name="type"/> with <paramref name="scopes"/> may perform
    /// <paramref name="operation"/> (null: an HTTP method with no operation) on <paramref name="resource"/>
    /// (null: the route names no scope, so only keys without scopes pass it). <c>*</c> in a scope is a wildcard.
    /// </summary>
    public static bool Allow(ApiKeyType type, IReadOnlyList<string> scopes, string? resource, string? operation)
    {
        if (scopes.Count == 0)
        {
            if (type == ApiKeyType.Secret || resource is null)
            {
                return true;
            }

            scopes = PublishableDefault;
        }

        return resource is not null && operation is not null && Cover(scopes, resource, operation);
    }

    private static bool Cover(IReadOnlyList<string> scopes, string resource, string operation)
    {
        foreach (var scope in scopes)
        {
            var colon = scope.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }

            var scopeResource = scope.AsSpan(0, colon);
            var scopeOperation = scope.AsSpan(colon + 1);
            if ((scopeResource is "*" || scopeResource.SequenceEqual(resource))
                && (scopeOperation is "*" || scopeOperation.SequenceEqual(operation)))
            {
                return true;
            }
        }

        return false;
    }
}

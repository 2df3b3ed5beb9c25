namespace Keys.ApiKeys;

/// <summary>
/// Scopes read <c>{resource}:{operation}</c>: resource is a name or <c>*</c>; operation is one of read, create,
/// update, delete or <c>*</c>. A key without scopes is limited only by its type.
/// </summary>
public static class Scopes
{
    public const int MaxResourceLength = 64;

    public static readonly IReadOnlyList<string> Operations = ["read", "create", "update", "delete"];

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
    /// Whether a key's scopes allow <paramref name="operation"/> on <paramref name="resource"/>. A key without scopes is
    /// limited only by its type; <c>*</c> is a wildcard on either side.
    /// </summary>
    public static bool Allow(IReadOnlyList<string> scopes, string resource, string? operation)
    {
        if (scopes.Count == 0)
        {
            return true;
        }

        if (operation is null)
        {
            return false;
        }

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

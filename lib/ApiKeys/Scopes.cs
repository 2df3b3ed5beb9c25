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
}

namespace Keys.KeyAdmin.Access;

/// <summary>What an operator may do. Each role may do everything the ones below it may.</summary>
public enum OperatorRole
{
    /// <summary>Reads projects, keys and audit events.</summary>
    Viewer = 1,

    /// <summary>Also creates projects and environments, and creates, rolls and deletes keys.</summary>
    Editor = 2,

    /// <summary>Also lists, creates and revokes operators.</summary>
    Owner = 3,
}

public static class OperatorRoles
{
    public static string ToName(this OperatorRole role) => role switch
    {
        OperatorRole.Viewer => "viewer",
        OperatorRole.Editor => "editor",
        OperatorRole.Owner => "owner",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    public static bool TryParseName(string? name, out OperatorRole role)
    {
        role = name switch
        {
            "viewer" => OperatorRole.Viewer,
            "editor" => OperatorRole.Editor,
            "owner" => OperatorRole.Owner,
            _ => default,
        };
        return role != default;
    }
}

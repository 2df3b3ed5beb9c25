using Keys.KeyAdmin.Data;

namespace Keys.KeyAdmin.Access;

/// <summary>
/// Who made a management call: an operator by their token, or one of KeyAdmin's built-in credentials (the break-glass
/// admin token, the Aspire dashboard's). Audit rows and created keys name it.
/// </summary>
public sealed record Caller(string Id, string Name, OperatorRole Role, IReadOnlyList<string> ProjectIds, OperatorRow? Operator = null)
{
    /// <summary>The break-glass token from KeyAdmin's configuration: an owner, for the first operator and for emergencies.</summary>
    public static readonly Caller AdminToken = new("admin-token", "admin-token", OperatorRole.Owner, []);

    /// <summary>The credential of the Aspire dashboard's commands, so that what they do is audited as the dashboard's.</summary>
    public static readonly Caller Dashboard = new("dashboard", "dashboard", OperatorRole.Owner, []);

    public static Caller From(OperatorRow row) => new(row.Id, row.Name, row.Role, row.ProjectIds, row);

    public bool IsLimitedToProjects => ProjectIds.Count > 0;

    public bool MayActOn(string projectId) => !IsLimitedToProjects || ProjectIds.Contains(projectId, StringComparer.Ordinal);
}

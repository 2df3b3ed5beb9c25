using System.Collections.Frozen;
using Keys.ApiKeys;
using Keys.V1;

namespace Keys.KeyAdmin.Access;

/// <summary>How a management call relates to projects, for operators whose tokens are limited to some.</summary>
public enum ProjectReach
{
    /// <summary>About no project (operators, the caller itself).</summary>
    None,

    /// <summary>About the project its request's <c>project_id</c> names; an empty one means every project.</summary>
    Named,

    /// <summary>About projects in general (creating one): only a token for every project may.</summary>
    All,

    /// <summary>Answers about every project, and the handler leaves out those the caller may not see.</summary>
    Filtered,
}

/// <summary>The least role a call needs, how it reaches projects, and what to call it in a refusal.</summary>
public sealed record AccessRule(OperatorRole Role, ProjectReach Projects, string Action);

/// <summary>Why a call is refused: a stable reason and a message that names what would be allowed.</summary>
public sealed record AccessDenial(string Reason, string Message);

/// <summary>
/// Who may make which management call: one rule per RPC of <c>KeyAdminService</c>, checked before the handler runs.
/// A method with no rule is refused to everyone, so a new RPC is closed until someone decides who may call it.
/// </summary>
public static class AccessRules
{
    public const string RoleRequired = "ROLE_REQUIRED";
    public const string ProjectNotAllowed = "PROJECT_NOT_ALLOWED";

    public static readonly FrozenDictionary<string, AccessRule> ByMethod = new Dictionary<string, AccessRule>
    {
        [PathOf("ListProjects")] = new(OperatorRole.Viewer, ProjectReach.Filtered, "Listing projects"),
        [PathOf("GetProject")] = new(OperatorRole.Viewer, ProjectReach.Named, "Reading a project"),
        [PathOf("ListKeys")] = new(OperatorRole.Viewer, ProjectReach.Named, "Listing keys"),
        [PathOf("ListAuditEvents")] = new(OperatorRole.Viewer, ProjectReach.Named, "Reading audit events"),
        [PathOf("GetCurrentOperator")] = new(OperatorRole.Viewer, ProjectReach.None, "Reading who is signed in"),
        [PathOf("CreateProject")] = new(OperatorRole.Editor, ProjectReach.All, "Creating a project"),
        [PathOf("CreateEnvironment")] = new(OperatorRole.Editor, ProjectReach.Named, "Creating an environment"),
        [PathOf("CreateKey")] = new(OperatorRole.Editor, ProjectReach.Named, "Creating a key"),
        [PathOf("DeleteKey")] = new(OperatorRole.Editor, ProjectReach.Named, "Deleting a key"),
        [PathOf("RollKey")] = new(OperatorRole.Editor, ProjectReach.Named, "Rolling a key"),
        [PathOf("UpdateKey")] = new(OperatorRole.Editor, ProjectReach.Named, "Updating a key"),
        [PathOf("UpdateProject")] = new(OperatorRole.Editor, ProjectReach.Named, "Updating a project"),
        // The key names its project only once found: the handler answers KEY_NOT_FOUND outside the token's projects.
        [PathOf("FindKey")] = new(OperatorRole.Viewer, ProjectReach.Filtered, "Finding a key"),
        [PathOf("FlushCaches")] = new(OperatorRole.Editor, ProjectReach.All, "Flushing caches"),
        [PathOf("ListOperators")] = new(OperatorRole.Owner, ProjectReach.None, "Listing operators"),
        [PathOf("CreateOperator")] = new(OperatorRole.Owner, ProjectReach.None, "Creating an operator"),
        [PathOf("RevokeOperator")] = new(OperatorRole.Owner, ProjectReach.None, "Revoking an operator"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The gRPC path of a <c>KeyAdminService</c> method, as <c>ServerCallContext.Method</c> gives it.</summary>
    public static string PathOf(string method) => $"/{KeyAdminService.Descriptor.FullName}/{method}";

    /// <summary>Null when <paramref name="caller"/> may call <paramref name="method"/> about <paramref name="projectId"/>.</summary>
    public static AccessDenial? Check(Caller caller, string method, string projectId)
    {
        if (!ByMethod.TryGetValue(method, out var rule))
        {
            return new AccessDenial(RoleRequired, "No one may make this call.");
        }

        if (caller.Role < rule.Role)
        {
            return new AccessDenial(
                RoleRequired,
                $"{rule.Action} needs the {rule.Role.ToName()} role{(rule.Role == OperatorRole.Owner ? "" : " or higher")}; " +
                $"operator '{caller.Name}' is {Article(caller.Role)} {caller.Role.ToName()}.");
        }

        if (!caller.IsLimitedToProjects)
        {
            return null;
        }

        return rule.Projects switch
        {
            ProjectReach.None or ProjectReach.Filtered => null,
            ProjectReach.Named when projectId.Length == 0 => AcrossProjects(caller, $"{rule.Action} of every project"),
            ProjectReach.Named when !caller.MayActOn(projectId) => new AccessDenial(
                ProjectNotAllowed,
                $"Operator '{caller.Name}' may act only on {string.Join(", ", caller.ProjectIds)}; " +
                (ResourceId.IsWellFormed(projectId, ResourceId.ProjectPrefix) ? $"'{projectId}' is not one of them." : "this is not one of them.")),
            ProjectReach.Named => null,
            _ => AcrossProjects(caller, rule.Action),
        };
    }

    private static AccessDenial AcrossProjects(Caller caller, string action) => new(
        ProjectNotAllowed,
        $"{action} needs a token for every project; operator '{caller.Name}' may act only on {string.Join(", ", caller.ProjectIds)}.");

    private static string Article(OperatorRole role) => role == OperatorRole.Viewer ? "a" : "an";
}

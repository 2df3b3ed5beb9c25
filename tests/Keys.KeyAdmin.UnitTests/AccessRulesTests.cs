using Keys.KeyAdmin.Access;
using Keys.V1;

namespace Keys.KeyAdmin.UnitTests;

public sealed class AccessRulesTests
{
    private const string Mine = "prj_0000000000000000000001";
    private const string Theirs = "prj_0000000000000000000002";

    private static readonly Caller Viewer = new("opr_v", "vera", OperatorRole.Viewer, []);
    private static readonly Caller Editor = new("opr_e", "ed", OperatorRole.Editor, []);
    private static readonly Caller LimitedEditor = new("opr_l", "lee", OperatorRole.Editor, [Mine]);

    public static TheoryData<string> Methods() => new(KeyAdminService.Descriptor.Methods.Select(m => m.Name));

    [Theory]
    [MemberData(nameof(Methods))]
    public void EveryManagementMethodHasARule(string method) =>
        Assert.True(AccessRules.ByMethod.ContainsKey(AccessRules.PathOf(method)), $"{method} has no access rule: no one could call it.");

    [Fact]
    public void EveryRuleIsForAManagementMethod()
    {
        var paths = KeyAdminService.Descriptor.Methods.Select(m => AccessRules.PathOf(m.Name)).ToHashSet();
        Assert.All(AccessRules.ByMethod.Keys, path => Assert.Contains(path, paths));
    }

    // The interceptor reads the project from the request's project_id: a rule about "the named project" on a request
    // without one would let a limited token through to every project.
    [Fact]
    public void EveryMethodWhoseRuleNamesAProjectHasAProjectIdInItsRequest()
    {
        foreach (var method in KeyAdminService.Descriptor.Methods)
        {
            if (AccessRules.ByMethod[AccessRules.PathOf(method.Name)].Projects == ProjectReach.Named)
            {
                Assert.NotNull(method.InputType.FindFieldByName("project_id"));
            }
        }
    }

    [Fact]
    public void AMethodWithNoRuleIsRefusedEvenToTheAdminToken() =>
        Assert.NotNull(AccessRules.Check(Caller.AdminToken, "/keys.v1.KeyAdminService/DropEverything", ""));

    [Theory]
    [InlineData("ListKeys", null)]
    [InlineData("CreateKey", "Creating a key needs the editor role or higher; operator 'vera' is a viewer.")]
    [InlineData("CreateOperator", "Creating an operator needs the owner role; operator 'vera' is a viewer.")]
    public void AViewerMayReadOnlyAndTheRefusalNamesTheRoleNeeded(string method, string? message)
    {
        var denial = AccessRules.Check(Viewer, AccessRules.PathOf(method), Mine);
        Assert.Equal(message, denial?.Message);
        if (denial is not null)
        {
            Assert.Equal(AccessRules.RoleRequired, denial.Reason);
        }
    }

    [Fact]
    public void AnEditorMayChangeKeysButNotOperators()
    {
        Assert.Null(AccessRules.Check(Editor, AccessRules.PathOf("DeleteKey"), Mine));
        Assert.Equal(
            "Revoking an operator needs the owner role; operator 'ed' is an editor.",
            AccessRules.Check(Editor, AccessRules.PathOf("RevokeOperator"), "")?.Message);
    }

    [Theory]
    [InlineData("CreateKey", Mine, null)]
    [InlineData("CreateKey", Theirs, AccessRules.ProjectNotAllowed)]
    [InlineData("GetProject", Theirs, AccessRules.ProjectNotAllowed)]
    [InlineData("ListAuditEvents", Mine, null)]
    [InlineData("ListAuditEvents", "", AccessRules.ProjectNotAllowed)]
    [InlineData("CreateProject", "", AccessRules.ProjectNotAllowed)]
    [InlineData("FlushCaches", "", AccessRules.ProjectNotAllowed)]
    [InlineData("ListProjects", "", null)]
    [InlineData("GetCurrentOperator", "", null)]
    public void ATokenLimitedToProjectsActsOnlyOnThem(string method, string projectId, string? reason) =>
        Assert.Equal(reason, AccessRules.Check(LimitedEditor, AccessRules.PathOf(method), projectId)?.Reason);

    [Fact]
    public void ARefusedProjectIsEchoedOnlyWhenItHasTheShapeOfAProjectId()
    {
        var pasted = "sk_" + new string('a', 49);
        var denial = AccessRules.Check(LimitedEditor, AccessRules.PathOf("ListKeys"), pasted);
        Assert.NotNull(denial);
        Assert.DoesNotContain(pasted, denial.Message);
        Assert.Contains($"'{Theirs}' is not one of them", AccessRules.Check(LimitedEditor, AccessRules.PathOf("ListKeys"), Theirs)!.Message);
    }

    [Fact]
    public void KeyAdminsOwnCredentialsAreOwnersOfEveryProject()
    {
        foreach (var builtIn in new[] { Caller.AdminToken, Caller.Dashboard })
        {
            Assert.All(KeyAdminService.Descriptor.Methods, m => Assert.Null(AccessRules.Check(builtIn, AccessRules.PathOf(m.Name), Theirs)));
        }
    }
}

using System.Runtime.Versioning;
using System.Text.Json;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// keysctl's operator commands against the real system: tokens issued, logged in with, listed, revoked. They need
/// KeyAdmin's operator RPCs (GetCurrentOperator, ListOperators, CreateOperator, RevokeOperator, ListAuditEvents across
/// projects).
/// </summary>
[Collection(KeysCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class KeysCtlOperatorTests(KeysAppFixture fixture) : IDisposable
{
    private readonly Uri _keyAdmin = fixture.App.GetEndpoint("key-admin", "http");

    private readonly KeysCtlRunner _owner = new(fixture.App.GetEndpoint("key-admin", "http"), fixture.AdminToken);

    [Fact]
    public async Task AnOperatorTokenIssuedWithTheCliLogsInWorksAndIsRefusedOnceRevoked()
    {
        var name = $"ci-{Guid.NewGuid():N}"[..20];
        var (operatorId, token) = await CreateOperatorAsync(name, "editor");
        using var user = new KeysCtlRunner(_keyAdmin, token: null);

        var login = await user.RunPipedAsync(token + "\n", "login");
        var whoami = await user.RunAsync("whoami", "-o", "json");
        var projects = await user.RunAsync("projects", "list", "-o", "json");

        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Contains($"as {name} (editor)", login.Stdout);
        Assert.DoesNotContain(token, login.Stdout + login.Stderr);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(user.ConfigPath));
        Assert.Contains(token, File.ReadAllText(user.ConfigPath));

        Assert.True(whoami.ExitCode == 0, whoami.ToString());
        using (var me = JsonDocument.Parse(whoami.Stdout))
        {
            Assert.Equal(operatorId, me.RootElement.GetProperty("operator").GetProperty("id").GetString());
            Assert.Equal("editor", me.RootElement.GetProperty("operator").GetProperty("role").GetString());
        }

        Assert.True(projects.ExitCode == 0, projects.ToString());

        var revoke = await _owner.RunAsync("operators", "revoke", operatorId);
        var refused = await user.RunAsync("projects", "list");

        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        Assert.Equal(1, refused.ExitCode);
        Assert.StartsWith("error: ", refused.Stderr);
        Assert.Contains("hint: the token was refused", refused.Stderr);
        Assert.Empty(refused.Stdout);
    }

    [Fact]
    public async Task OperatorsListShowsTokensMaskedAndRevokedOnesAsRevoked()
    {
        var name = $"list-{Guid.NewGuid():N}"[..20];
        var (operatorId, token) = await CreateOperatorAsync(name, "viewer");
        await _owner.RunAsync("operators", "revoke", operatorId);

        var table = await _owner.RunAsync("operators", "list");
        var json = await _owner.RunAsync("operators", "list", "-o", "json");

        Assert.True(table.ExitCode == 0, table.ToString());
        var row = Assert.Single(table.Stdout.Split('\n'), l => l.Contains(operatorId));
        Assert.Contains(name, row);
        Assert.Contains("viewer", row);
        Assert.Contains("revoked", row);
        Assert.DoesNotContain(token, table.Stdout);

        using var list = JsonDocument.Parse(json.Stdout);
        var listed = Assert.Single(list.RootElement.GetProperty("operators").EnumerateArray(), o => o.GetProperty("id").GetString() == operatorId);
        Assert.True(listed.TryGetProperty("revokedAt", out _));
        Assert.DoesNotContain(token, json.Stdout);
    }

    [Fact]
    public async Task AnOperatorTokenIsPrintedOnceToStdoutAndNeverToStderr()
    {
        var result = await _owner.RunAsync("operators", "create", "--name", $"once-{Guid.NewGuid():N}"[..20], "--role", "viewer", "--expires", "1d");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal("Operator token (shown once, store it now):", lines[^2]);
        Assert.StartsWith("op_", lines[^1]);
        Assert.DoesNotContain(lines[^1], result.Stderr);
        Assert.Contains("only time the operator token is shown", result.Stderr);
    }

    [Fact]
    public async Task AnEditorCannotIssueOperatorTokens()
    {
        var (_, token) = await CreateOperatorAsync($"ed-{Guid.NewGuid():N}"[..20], "editor");
        using var editor = new KeysCtlRunner(_keyAdmin, token);

        var result = await editor.RunAsync("operators", "create", "--name", "sneaky", "--role", "owner");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains("owner", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task TheAdminTokenIsTheBuiltInCredentialAndTheWholeAuditLogShowsOperatorEvents()
    {
        var (operatorId, _) = await CreateOperatorAsync($"aud-{Guid.NewGuid():N}"[..20], "viewer");
        await _owner.RunAsync("operators", "revoke", operatorId);

        var whoami = await _owner.RunAsync("whoami", "-o", "json");
        var audit = await _owner.RunAsync("audit", "-o", "json");

        Assert.True(whoami.ExitCode == 0, whoami.ToString());
        using (var me = JsonDocument.Parse(whoami.Stdout))
        {
            Assert.Equal("admin-token", me.RootElement.GetProperty("operator").GetProperty("id").GetString());
        }

        Assert.True(audit.ExitCode == 0, audit.ToString());
        using var events = JsonDocument.Parse(audit.Stdout);
        var actions = events.RootElement.GetProperty("events").EnumerateArray()
            .Where(e => e.TryGetProperty("operatorId", out var id) && id.GetString() == operatorId)
            .Select(e => e.GetProperty("action").GetString());
        Assert.Equal(["operator.revoked", "operator.created"], actions);
    }

    public void Dispose() => _owner.Dispose();

    private async Task<(string OperatorId, string Token)> CreateOperatorAsync(string name, string role)
    {
        var created = await _owner.RunAsync("operators", "create", "--name", name, "--role", role, "-o", "json");
        Assert.True(created.ExitCode == 0, created.ToString());
        using var json = JsonDocument.Parse(created.Stdout);
        return (
            json.RootElement.GetProperty("operator").GetProperty("id").GetString()!,
            json.RootElement.GetProperty("token").GetString()!);
    }
}

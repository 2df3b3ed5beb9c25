using System.Runtime.Versioning;
using System.Text.Json;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// keysctl against the real system: projects, keys and the audit log, with the admin token (a bearer token the API
/// takes as an operator's). Each test works in a project of its own.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class KeysCtlTests(KeysAppFixture fixture) : IDisposable
{
    private readonly KeysCtlRunner _cli = new(fixture.App.GetEndpoint("key-admin", "http"), fixture.AdminToken);

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();

    [Fact]
    public async Task AProjectCreatedWithTheCliIsListedByItAsATableAndAsJson()
    {
        var name = $"CLI {Guid.NewGuid():N}";

        var created = await _cli.RunAsync("projects", "create", "--name", name, "-o", "json");
        var table = await _cli.RunAsync("projects", "list");
        var json = await _cli.RunAsync("projects", "list", "--output", "json");

        Assert.True(created.ExitCode == 0, created.ToString());
        using var project = JsonDocument.Parse(created.Stdout);
        var id = project.RootElement.GetProperty("id").GetString()!;
        Assert.StartsWith("prj_", id);
        Assert.Equal(["dev", "staging", "prod"], project.RootElement.GetProperty("environments").EnumerateArray().Select(e => e.GetProperty("name").GetString()));

        Assert.Equal(0, table.ExitCode);
        var row = Assert.Single(table.Stdout.Split('\n'), line => line.Contains(id));
        Assert.Contains(name, row);
        Assert.Contains("dev, staging, prod", row);

        using var list = JsonDocument.Parse(json.Stdout);
        Assert.Contains(list.RootElement.GetProperty("projects").EnumerateArray(), p => p.GetProperty("id").GetString() == id);
        Assert.Empty(created.Stderr + table.Stderr + json.Stderr);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task LoginWithAPipedTokenStoresItForTheNextCommandsInAFileOnlyTheUserCanRead()
    {
        using var user = new KeysCtlRunner(fixture.App.GetEndpoint("key-admin", "http"), token: null);

        var before = await user.RunAsync("projects", "list");
        var login = await user.RunPipedAsync(fixture.AdminToken + "\n", "login");
        var after = await user.RunAsync("projects", "list", "-o", "json");
        var logout = await user.RunAsync("logout");
        var loggedOut = await user.RunAsync("projects", "list");

        Assert.Equal(1, before.ExitCode);
        Assert.StartsWith("error: not logged in to ", before.Stderr);
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.DoesNotContain(fixture.AdminToken, login.Stdout + login.Stderr);
        Assert.True(after.ExitCode == 0, after.ToString());
        using var projects = JsonDocument.Parse(after.Stdout);
        Assert.Equal(JsonValueKind.Array, projects.RootElement.GetProperty("projects").ValueKind);

        Assert.Equal(0, logout.ExitCode);
        Assert.False(File.Exists(user.ConfigPath));
        Assert.Equal(1, loggedOut.ExitCode);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task TheStoredLoginIsTheUsersAlone()
    {
        using var user = new KeysCtlRunner(fixture.App.GetEndpoint("key-admin", "http"), token: null);

        var login = await user.RunPipedAsync(fixture.AdminToken, "login");

        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(user.ConfigPath));
        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.GetDirectoryName(user.ConfigPath)!));
        Assert.Contains(fixture.AdminToken, File.ReadAllText(user.ConfigPath));
    }

    [Fact]
    public async Task ANewSecretKeysValueIsPrintedOnceToStdoutAndNeverToStderrAndIsTheKeyTheApiKeeps()
    {
        var project = await _admin.CreateProjectAsync();

        var result = await _cli.RunAsync(
            "keys", "create", "-p", project.Id, "-e", "dev", "--name", "server", "--type", "secret", "--scope", "orders:read", "--expires", "30d");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.TrimEnd().Split('\n');
        var value = lines[^1];
        Assert.StartsWith("sk_", value);
        Assert.Equal("Secret key (shown once, store it now):", lines[^2]);
        Assert.Single(result.Stdout.Split(value)[1..]);
        Assert.DoesNotContain(value, result.Stderr);
        Assert.Contains("only time the secret key's value is shown", result.Stderr);

        var key = Assert.Single((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
        Assert.Equal("server", key.Name);
        Assert.Equal(["orders:read"], key.Scopes);
        Assert.InRange(key.ExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(30).AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30).AddMinutes(5));
        Assert.Contains(key.Id, result.Stdout);
        // The masked form the API keeps is the printed value's start and end.
        Assert.Equal(ApiKeys.KeyString.Mask(value), key.MaskedKey);

        // And it is not shown again: the list has the masked form only.
        var list = await _cli.RunAsync("keys", "list", "-p", project.Id, "-e", "dev");
        Assert.DoesNotContain(value, list.Stdout);
        Assert.Contains(key.MaskedKey, list.Stdout);
    }

    [Fact]
    public async Task KeysListShowsOneEnvironmentOrEveryEnvironmentOfTheProject()
    {
        var project = await _admin.CreateProjectAsync();
        var dev = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "web", "--type", "publishable", "-o", "json");
        var prod = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "prod", "--name", "server", "--type", "secret", "-o", "json");
        Assert.True(dev.ExitCode == 0 && prod.ExitCode == 0, dev + "\n" + prod);

        var onlyDev = await _cli.RunAsync("keys", "list", "-p", project.Id, "-e", "dev", "-o", "json");
        var all = await _cli.RunAsync("keys", "list", "-p", project.Id, "-o", "json");
        var table = await _cli.RunAsync("keys", "list", "--project", project.Id);

        Assert.Equal(["web"], KeyNames(onlyDev));
        Assert.Equal(["web", "server"], KeyNames(all));
        // A publishable key's value is in the JSON; tables show every key masked.
        using var devKey = JsonDocument.Parse(dev.Stdout);
        var publishableValue = devKey.RootElement.GetProperty("value").GetString()!;
        Assert.Contains(publishableValue, all.Stdout);
        var webRow = Assert.Single(table.Stdout.Split('\n'), l => l.Contains(" web "));
        Assert.Contains(ApiKeys.KeyString.Mask(publishableValue), webRow);
        Assert.Contains("publishable", webRow);
        var serverRow = Assert.Single(table.Stdout.Split('\n'), l => l.Contains(" server "));
        Assert.Contains("prod", serverRow);
        Assert.Contains("sk_", serverRow);
        Assert.Contains("…", serverRow);
    }

    [Fact]
    public async Task DeleteWithTheWrongNameExitsOneWithTheApisMessageAndTheKeyStaysThenTheRightNameDeletesIt()
    {
        var project = await _admin.CreateProjectAsync();
        var key = (await _admin.CreateKeyAsync(project.Id, "dev", "billing", "secret")).Key;

        var wrong = await _cli.RunAsync("keys", "delete", key.Id, "-p", project.Id, "-e", "dev", "--confirm-name", "bill");
        var afterWrong = await _cli.RunAsync("keys", "list", "-p", project.Id, "-e", "dev", "-o", "json");
        var right = await _cli.RunAsync("keys", "delete", key.Id, "-p", project.Id, "-e", "dev", "--confirm-name", "billing");
        var afterRight = await _cli.RunAsync("keys", "list", "-p", project.Id, "-e", "dev", "-o", "json");

        Assert.Equal(1, wrong.ExitCode);
        Assert.Equal("error: confirmName does not match the key's name; nothing was deleted. (CONFIRM_NAME_MISMATCH)\n", wrong.Stderr);
        Assert.Empty(wrong.Stdout);
        Assert.Equal(["billing"], KeyNames(afterWrong));

        Assert.True(right.ExitCode == 0, right.ToString());
        Assert.Equal($"Deleted key {key.Id} (billing): gateways reject it from now on.\n", right.Stdout);
        Assert.Empty(KeyNames(afterRight));
    }

    [Fact]
    public async Task RollPrintsTheNewSecretOnceAndTheOldKeyWorksForTheGrace()
    {
        var project = await _admin.CreateProjectAsync();
        var first = (await _admin.CreateKeyAsync(project.Id, "dev", "rotating", "secret")).Key;

        var table = await _cli.RunAsync("keys", "roll", first.Id, "-p", project.Id, "-e", "dev", "--grace", "1h");
        var second = Assert.Single((await _admin.ListKeysAsync(project.Id, "dev")).Keys, k => k.RolledFrom == first.Id);
        var json = await _cli.RunAsync("keys", "roll", second.Id, "-p", project.Id, "-e", "dev", "--grace", "0", "-o", "json");
        var again = await _cli.RunAsync("keys", "roll", first.Id, "-p", project.Id, "-e", "dev", "--grace", "1h");

        Assert.True(table.ExitCode == 0, table.ToString());
        var value = table.Stdout.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("sk_", value);
        Assert.Equal(ApiKeys.KeyString.Mask(value), second.MaskedKey);
        Assert.StartsWith($"Rolled {first.Id}: it keeps working until ", table.Stdout);
        Assert.DoesNotContain(value, table.Stderr);

        Assert.True(json.ExitCode == 0, json.ToString());
        using var rolled = JsonDocument.Parse(json.Stdout);
        Assert.StartsWith("sk_", rolled.RootElement.GetProperty("value").GetString());
        Assert.Equal(second.Id, rolled.RootElement.GetProperty("previousKey").GetProperty("id").GetString());
        Assert.True(rolled.RootElement.GetProperty("previousKey").GetProperty("graceUntil").GetDateTimeOffset() <= DateTimeOffset.UtcNow.AddSeconds(5));

        // The first key is in its grace period: the API refuses a second roll, and keysctl says why.
        Assert.Equal(1, again.ExitCode);
        Assert.EndsWith("(KEY_ALREADY_ROLLED)\n", again.Stderr);

        var list = await _cli.RunAsync("keys", "list", "-p", project.Id, "-e", "dev");
        Assert.Contains("rolled, works until", Assert.Single(list.Stdout.Split('\n'), l => l.Contains(first.Id)));
    }

    [Fact]
    public async Task AuditShowsWhatTheCliDidNewestFirst()
    {
        var created = await _cli.RunAsync("projects", "create", "--name", "Audited", "-o", "json");
        using var project = JsonDocument.Parse(created.Stdout);
        var id = project.RootElement.GetProperty("id").GetString()!;
        await _cli.RunAsync("keys", "create", "-p", id, "-e", "staging", "--name", "audited-key", "--type", "secret");
        var gone = await _cli.RunAsync("keys", "create", "-p", id, "-e", "dev", "--name", "gone", "--type", "publishable", "-o", "json");
        using var goneKey = JsonDocument.Parse(gone.Stdout);
        var goneId = goneKey.RootElement.GetProperty("key").GetProperty("id").GetString()!;
        await _cli.RunAsync("keys", "delete", goneId, "-p", id, "-e", "dev", "--confirm-name", "gone");

        var json = await _cli.RunAsync("audit", "-p", id, "-o", "json");
        var limited = await _cli.RunAsync("audit", "-p", id, "--limit", "1", "-o", "json");
        var table = await _cli.RunAsync("audit", "--project", id);

        Assert.True(json.ExitCode == 0, json.ToString());
        using var events = JsonDocument.Parse(json.Stdout);
        var keyEvents = events.RootElement.GetProperty("events").EnumerateArray()
            .Where(e => e.GetProperty("action").GetString()!.StartsWith("key.", StringComparison.Ordinal))
            .Select(e => (e.GetProperty("action").GetString(), e.GetProperty("keyName").GetString()));
        Assert.Equal([("key.deleted", "gone"), ("key.created", "gone"), ("key.created", "audited-key")], keyEvents);
        Assert.All(events.RootElement.GetProperty("events").EnumerateArray(), e => Assert.Equal("admin-token", e.GetProperty("actor").GetString()));
        using var one = JsonDocument.Parse(limited.Stdout);
        Assert.Equal("key.deleted", Assert.Single(one.RootElement.GetProperty("events").EnumerateArray()).GetProperty("action").GetString());

        Assert.Equal(0, table.ExitCode);
        var keyRow = Assert.Single(table.Stdout.Split('\n'), l => l.Contains("audited-key"));
        Assert.Contains("key.created", keyRow);
        Assert.Contains("audited-key (key_", keyRow);
        Assert.Contains("staging", keyRow);
        Assert.Contains("admin-token", keyRow);
        Assert.Contains(" gone (key_", Assert.Single(table.Stdout.Split('\n'), l => l.Contains("key.deleted")));
    }

    [Theory]
    [InlineData("keys", "list", "-p", "prj_doesnotexist", "-e", "dev")]
    [InlineData("keys", "create", "-p", "prj_doesnotexist", "-e", "dev", "--name", "k", "--type", "secret")]
    [InlineData("audit", "-p", "prj_doesnotexist", "-o", "json")]
    public async Task AnUnknownProjectExitsOneWithProjectNotFoundOnStderr(params string[] args)
    {
        var result = await _cli.RunAsync(args);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.EndsWith("(PROJECT_NOT_FOUND)\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task AnInvalidRequestIsRefusedByTheApiNotGuessedAtByTheCli()
    {
        var project = await _admin.CreateProjectAsync();

        var badName = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "no/slashes", "--type", "secret");
        var pastExpiry = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "k", "--type", "secret", "--expires", "2001-01-01");
        var badScope = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "k", "--type", "secret", "--scope", "orders:fly");

        Assert.Equal((1, "(INVALID_KEY_NAME)"), (badName.ExitCode, badName.Stderr.TrimEnd()[^18..]));
        Assert.Equal((1, "(INVALID_EXPIRY)"), (pastExpiry.ExitCode, pastExpiry.Stderr.TrimEnd()[^16..]));
        Assert.Equal((1, "(INVALID_SCOPE)"), (badScope.ExitCode, badScope.Stderr.TrimEnd()[^15..]));
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task BadUsageExitsTwoAndCreatesNothing()
    {
        var project = await _admin.CreateProjectAsync();

        var missing = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "k");
        var badType = await _cli.RunAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "k", "--type", "root");
        var unknown = await _cli.RunAsync("keys", "rotate");

        Assert.All([missing, badType, unknown], r =>
        {
            Assert.Equal(2, r.ExitCode);
            Assert.Empty(r.Stdout);
            Assert.StartsWith("error: ", r.Stderr);
        });
        Assert.Contains("Option '--type' is required.", missing.Stderr);
        Assert.Empty((await _admin.ListKeysAsync(project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task TheCommandAsItsOwnProcessExitsWithTheSameCodesAndKeepsStdoutForTheResult()
    {
        var project = await _admin.CreateProjectAsync();

        var created = await _cli.RunProcessAsync("keys", "create", "-p", project.Id, "-e", "dev", "--name", "proc", "--type", "secret", "-o", "json");
        var notFound = await _cli.RunProcessAsync("keys", "list", "-p", "prj_doesnotexist", "-e", "dev");
        var usage = await _cli.RunProcessAsync("keys", "create");
        _cli.Environment["KEYSCTL_URL"] = "http://127.0.0.1:1";
        var unreachable = await _cli.RunProcessAsync("projects", "list");

        Assert.True(created.ExitCode == 0, created.ToString());
        using var json = JsonDocument.Parse(created.Stdout);
        var value = json.RootElement.GetProperty("value").GetString()!;
        Assert.StartsWith("sk_", value);
        Assert.DoesNotContain(value, created.Stderr);

        Assert.Equal(1, notFound.ExitCode);
        Assert.EndsWith("(PROJECT_NOT_FOUND)\n", notFound.Stderr);
        Assert.Empty(notFound.Stdout);

        Assert.Equal(2, usage.ExitCode);
        Assert.Empty(usage.Stdout);

        Assert.Equal(1, unreachable.ExitCode);
        Assert.StartsWith("error: cannot reach KeyAdmin at http://127.0.0.1:1", unreachable.Stderr);
    }

    [Fact]
    public async Task EveryCommandsJsonOutputParses()
    {
        var created = await _cli.RunAsync("projects", "create", "--name", "Json", "-o", "json");
        using var project = JsonDocument.Parse(created.Stdout);
        var id = project.RootElement.GetProperty("id").GetString()!;
        var key = await _cli.RunAsync("keys", "create", "-p", id, "-e", "dev", "--name", "j", "--type", "secret", "-o", "json");
        using var keyJson = JsonDocument.Parse(key.Stdout);
        var keyId = keyJson.RootElement.GetProperty("key").GetProperty("id").GetString()!;
        var rolled = await _cli.RunAsync("keys", "roll", keyId, "-p", id, "-e", "dev", "--grace", "0", "-o", "json");
        using var rolledJson = JsonDocument.Parse(rolled.Stdout);
        var newKeyId = rolledJson.RootElement.GetProperty("key").GetProperty("id").GetString()!;

        string[][] commands =
        [
            ["projects", "list"],
            ["keys", "list", "-p", id],
            ["keys", "list", "-p", id, "-e", "dev"],
            ["audit", "-p", id],
            ["keys", "delete", newKeyId, "-p", id, "-e", "dev", "--confirm-name", "j"],
        ];
        foreach (var command in commands)
        {
            var result = await _cli.RunAsync([.. command, "-o", "json"]);
            Assert.True(result.ExitCode == 0, $"{string.Join(' ', command)}: {result}");
            using var parsed = JsonDocument.Parse(result.Stdout);
            Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
            Assert.Empty(result.Stderr);
        }

        Assert.Empty(key.Stderr + rolled.Stderr);
    }

    public void Dispose() => _cli.Dispose();

    private static List<string?> KeyNames(KeysCtlResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        return [.. json.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("name").GetString())];
    }
}

using System.Net;
using System.Runtime.Versioning;
using Keys.AppHost.Infrastructure;
using Keys.FunctionalTests.Infrastructure;
using Npgsql;

namespace Keys.FunctionalTests;

/// <summary>What the AppHost keeps to itself on a running system: the operator token, the dashboard, the database, the files.</summary>
[Collection(HardenedAppCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class HostHardeningTests(HardenedAppFixture fixture)
{
    // What may hold the operator token: KeyAdmin, which checks it, as the app model gives it. Every other service
    // calls with a credential of its own.
    private static readonly HashSet<(string Resource, string Variable)> TokenHolders =
    [
        ("key-admin", "KeyAdmin__AdminToken"),
    ];

    [Fact]
    public async Task NoProcessButKeyAdminHasTheOperatorTokenInItsEnvironmentWhenTheAppHostWasGivenItInItsOwn()
    {
        var owners = await fixture.ResourceProcessesAsync();
        Assert.Contains(owners.Values, name => name == "aspire-dashboard");
        Assert.Equal(HardenedAppFixture.Replicas, owners.Where(o => o.Value == "gateway").Select(o => o.Key).Count(pid => IsService(pid, "Keys.Gateway")));

        // Every process on the machine, not only the resources': DCP and its helpers take the AppHost's environment too.
        var holders = new List<(string Process, string Variable)>();
        foreach (var pid in AllProcesses().Where(pid => pid != Environment.ProcessId))
        {
            foreach (var variable in VariablesHolding(pid, fixture.AdminToken))
            {
                holders.Add((owners.TryGetValue(pid, out var resource) ? resource : $"pid {pid} ({ProcessSignals.Program(pid)})", variable));
            }
        }

        // The token given to the AppHost reached KeyAdmin: what follows is not true merely because it went nowhere.
        Assert.Contains(("key-admin", "KeyAdmin__AdminToken"), holders);
        Assert.Empty(holders.Where(h => !TokenHolders.Contains(h)).Distinct());
    }

    [Fact]
    public async Task TheDashboardShowsNoResourcesWithoutTheLoginTokenAndSignsInWithTheLoginUrlTheAppHostLogs()
    {
        var dashboard = fixture.DashboardAddress;
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = dashboard };
        foreach (var page in new[] { "/", "/consolelogs", "/structuredlogs", "/traces" })
        {
            using var response = await anonymous.GetAsync(page);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(
                response.StatusCode == HttpStatusCode.Unauthorized || IsRedirectToLogin(response, dashboard),
                $"{page} answered {(int)response.StatusCode} {response.Headers.Location} without a login.");
            Assert.DoesNotContain("key-admin", body, StringComparison.Ordinal);
        }

        // A wrong token signs nobody in.
        using (var guesser = SignInClient(dashboard))
        {
            await guesser.GetAsync("/login?t=" + new string('0', 32));
            Assert.True(IsRedirectToLogin(await guesser.GetAsync("/"), dashboard));
        }

        // The AppHost logs where to sign in (as `aspire run` does); that address works.
        var login = Assert.Single(
            fixture.AppHostLog.Where(line => line.StartsWith("Login to the dashboard at ", StringComparison.Ordinal)).Distinct());
        var loginUrl = new Uri(login["Login to the dashboard at ".Length..].Trim());
        Assert.Equal("/login", loginUrl.AbsolutePath);
        using var operatorClient = SignInClient(dashboard);
        await operatorClient.GetAsync(loginUrl.PathAndQuery);
        using var signedIn = await operatorClient.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
    }

    [Fact]
    public async Task KeyAdminLogsIntoPostgresAsTheOwnerOfKeysdbAndOfItsTablesNotAsASuperuser()
    {
        await using var connection = new NpgsqlConnection(await fixture.EnvironmentOfAsync("key-admin", "ConnectionStrings__keysdb"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb,
                   (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()),
                   (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'),
                   (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relowner <> r.oid)
            FROM pg_roles r WHERE r.rolname = current_user
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());

        Assert.Equal(LocalPostgresDatabase.OwnerRole, reader.GetString(0));
        Assert.False(reader.GetBoolean(1), "KeyAdmin's role is a superuser.");
        Assert.False(reader.GetBoolean(2), "KeyAdmin's role may create roles.");
        Assert.False(reader.GetBoolean(3), "KeyAdmin's role may create databases.");
        Assert.Equal(reader.GetString(0), reader.GetString(4));
        Assert.True(reader.GetInt64(5) > 0, "KeyAdmin's migrations made no tables.");
        Assert.Equal(0, reader.GetInt64(6));
    }

    [Fact]
    public async Task ADatabaseTheSuperuserMadeAndOwnsIsHandedOverToKeyAdminsRoleWithEverythingInIt()
    {
        var keyAdmin = new NpgsqlConnectionStringBuilder(await fixture.EnvironmentOfAsync("key-admin", "ConnectionStrings__keysdb"));
        var superuser = new NpgsqlConnectionStringBuilder(keyAdmin.ConnectionString)
        {
            Username = "postgres",
            Password = File.ReadAllText(Path.Combine(fixture.DataDirectory, "postgres-password")).Trim(),
            Database = "postgres",
            Pooling = false,
        };

        // As a data directory from before KeyAdmin had a role looks: everything the superuser's.
        await ExecuteAsync(new NpgsqlConnectionStringBuilder(superuser.ConnectionString) { Database = "keysdb" }.ConnectionString, """
            CREATE TABLE superuser_made (id bigserial PRIMARY KEY);
            CREATE SEQUENCE superuser_sequence;
            CREATE VIEW superuser_view AS SELECT id FROM superuser_made;
            ALTER TABLE project OWNER TO postgres;
            ALTER SCHEMA public OWNER TO postgres;
            ALTER DATABASE keysdb OWNER TO postgres;
            """);
        try
        {
            // What the AppHost does on every start; twice, as two starts would.
            for (var start = 0; start < 2; start++)
            {
                await LocalPostgresDatabase.PrepareAsync(superuser.ConnectionString, "keysdb", keyAdmin.Password!, CancellationToken.None);
            }

            await using var connection = new NpgsqlConnection(keyAdmin.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                """
                SELECT 'database', pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()
                UNION ALL SELECT 'schema', pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'
                UNION ALL SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace
                """, connection);
            var owners = new List<(string, string)>();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    owners.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            Assert.Contains(owners, o => o.Item1 == "superuser_made_id_seq");
            Assert.Contains(owners, o => o.Item1 == "superuser_sequence");
            Assert.All(owners, o => Assert.Equal((o.Item1, LocalPostgresDatabase.OwnerRole), o));
        }
        finally
        {
            // As the superuser: whether or not the handover worked, the tests after this one find KeyAdmin's database as it was.
            await ExecuteAsync(new NpgsqlConnectionStringBuilder(superuser.ConnectionString) { Database = "keysdb" }.ConnectionString, $"""
                DROP VIEW IF EXISTS superuser_view;
                DROP TABLE IF EXISTS superuser_made;
                DROP SEQUENCE IF EXISTS superuser_sequence;
                ALTER TABLE project OWNER TO {LocalPostgresDatabase.OwnerRole};
                ALTER SCHEMA public OWNER TO {LocalPostgresDatabase.OwnerRole};
                ALTER DATABASE keysdb OWNER TO {LocalPostgresDatabase.OwnerRole};
                """);
        }
    }

    [Fact]
    public void TheDataDirectoryAndTheSecretFilesInItAreTheirOwnersOnly()
    {
        var directory = fixture.DataDirectory;
        if (Environment.IsPrivilegedProcess)
        {
            // The postgres user passes through to its own data directory, by its group; nobody else gets in.
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute, File.GetUnixFileMode(directory));
            Assert.Equal("postgres", Stat("%G", directory));
        }
        else
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        }

        foreach (var secret in new[] { "postgres-password", "keysdb-password", "redis-password", "redis.conf" })
        {
            Assert.Equal((secret, LocalSecrets.OwnerOnly), (secret, File.GetUnixFileMode(Path.Combine(directory, secret))));
        }

        Assert.Empty(Directory.EnumerateFiles(directory, "*.tmp"));
    }

    private static HttpClient SignInClient(Uri dashboard) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = dashboard };

    private static bool IsRedirectToLogin(HttpResponseMessage response, Uri dashboard) =>
        response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect
        && response.Headers.Location is { } location
        && new Uri(dashboard, location).AbsolutePath == "/login";

    private static IEnumerable<int> AllProcesses() =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Select(name => int.TryParse(name, out var pid) ? pid : 0)
            .Where(pid => pid > 0);

    // The names of the variables whose value contains the secret; a process that is gone, or not ours to read, has none.
    private static IEnumerable<string> VariablesHolding(int pid, string secret)
    {
        string environment;
        try
        {
            environment = File.ReadAllText($"/proc/{pid}/environ");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        return environment.Split('\0')
            .Where(entry => entry.Contains(secret, StringComparison.Ordinal))
            .Select(entry => entry.Split('=', 2)[0])
            .ToList();
    }

    private static bool IsService(int pid, string assembly) =>
        Path.GetFileName(ProcessSignals.Program(pid)) == assembly;

    private static string Stat(string format, string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true })!;
        var output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return output;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>The AppHost's choices about secrets that need no running system: its checks at start, its secret files.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class HostSecretsTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("keys-secrets-");

    [Fact]
    public async Task AChosenAdminTokenShorterThan32CharactersIsRefusedAtStartSayingSoButNotWhatItIs()
    {
        const string token = "chosen-but-only-31-characters!!";
        Assert.Equal(31, token.Length);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => CreateModelAsync($"Parameters:admin-token={token}"));

        var message = Flatten(error);
        Assert.Contains("at least 32", message);
        Assert.Contains("Parameters:admin-token", message);
        Assert.DoesNotContain(token, message);
    }

    [Fact]
    public async Task AShortAdminTokenInTheTokenFileIsRefusedAtStartToo()
    {
        var file = SecretFile("token", new string('t', 31));

        var error = await Assert.ThrowsAnyAsync<Exception>(() => CreateModelAsync($"{AdminTokenExtensions.TokenFileConfigKey}={file}"));

        Assert.Contains("at least 32", Flatten(error));
        Assert.Contains(file, Flatten(error));
    }

    [Fact]
    public async Task TheAdminTokenFileSettingGivesKeyAdminTheTokenInThatFile()
    {
        var token = new string('k', AdminTokenExtensions.MinimumLength);
        var file = SecretFile("token", token + "\n");

        await using var builder = await CreateModelAsync($"{AdminTokenExtensions.TokenFileConfigKey}={file}");

        var parameter = Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == AdminTokenExtensions.ParameterName);
        Assert.True(parameter.Secret);
        Assert.Equal(token, await parameter.GetValueAsync(CancellationToken.None));
    }

    [Fact]
    public void AnExistingSecretFileOthersCouldReadIsMadeTheOwnersOnlyAndKeepsItsSecret()
    {
        var path = Path.Combine(_directory.FullName, "secret");
        File.WriteAllText(path, "the-secret-from-before");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        Assert.Equal("the-secret-from-before", LocalSecrets.GetOrCreate(path));
        Assert.Equal(LocalSecrets.OwnerOnly, File.GetUnixFileMode(path));
    }

    [Fact]
    public void ANewSecretFileIsTheOwnersOnlyAndNothingIsLeftBesideIt()
    {
        var path = Path.Combine(_directory.FullName, "new", "secret");

        var secret = LocalSecrets.GetOrCreate(path);

        Assert.True(secret.Length >= AdminTokenExtensions.MinimumLength);
        Assert.Equal(secret, File.ReadAllText(path));
        Assert.Equal(LocalSecrets.OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void ARewrittenSecretFileReplacesOneOthersCouldReadWithOneOnlyItsOwnerCan()
    {
        var path = Path.Combine(_directory.FullName, "redis.conf");
        File.WriteAllText(path, "requirepass old");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        LocalSecrets.WriteAtomically(path, "requirepass new");

        Assert.Equal("requirepass new", File.ReadAllText(path));
        Assert.Equal(LocalSecrets.OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal([path], Directory.GetFiles(_directory.FullName));
    }

    public void Dispose() => _directory.Delete(recursive: true);

    private string SecretFile(string name, string contents)
    {
        var path = Path.Combine(_directory.FullName, name);
        File.WriteAllText(path, contents);
        File.SetUnixFileMode(path, LocalSecrets.OwnerOnly);
        return path;
    }

    private async Task<IDistributedApplicationTestingBuilder> CreateModelAsync(params string[] args) =>
        await DistributedApplicationTestingBuilder.CreateAsync<Projects.Keys_AppHost>(
            [.. args, "Keys:Infrastructure=local", $"Keys:DataDirectory={Path.Combine(_directory.FullName, "data")}"]);

    private static string Flatten(Exception error)
    {
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        return string.Join(" | ", messages);
    }
}

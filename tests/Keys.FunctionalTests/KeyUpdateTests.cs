using System.Net;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using Npgsql;

namespace Keys.FunctionalTests;

/// <summary>UpdateKey, REST and gRPC: only what is named changes, in one transaction with its audit event and invalidation.</summary>
[Collection(KeysCollection.Name)]
public sealed class KeyUpdateTests(KeysAppFixture fixture) : IDisposable
{
    private readonly KeyLifecycle _keys = new(fixture);

    private KeyAdminService.KeyAdminServiceClient Grpc => _keys.Grpc;

    [Fact]
    public async Task APatchOverRestChangesOnlyTheFieldsInItsBody()
    {
        var project = await _keys.NewProjectAsync();
        var created = await _keys.NewKeyAsync(project.Id, "secret", "before", r =>
        {
            r.Scopes.Add("posts:read");
            r.ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(30));
            r.RateLimit = new RateLimit { Limit = 100, WindowSeconds = 60 };
            r.AllowedCidrs.Add("10.0.0.0/8");
            r.Metadata = Struct.Parser.ParseJson("""{"team":"billing"}""");
        });

        var renamed = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", created.Key.Id, """{"name":"after"}"""));

        Assert.Equal("after", renamed.Name);
        Assert.Equal(created.Key.With(k => k.Name = "after"), renamed);
        Assert.Equal(renamed, await _keys.KeyAsync(project.Id, created.Key.Id));
    }

    public static TheoryData<string, string, string> EachField => new()
    {
        { "name", """{"name":"renamed"}""", "secret" },
        { "scopes", """{"scopes":["posts:read","comments:*"]}""", "secret" },
        { "expiresAt", """{"expiresAt":"2031-06-01T00:00:00Z"}""", "secret" },
        { "enabled", """{"enabled":false}""", "secret" },
        { "rateLimit", """{"rateLimit":{"limit":5,"windowSeconds":1,"mode":"global"}}""", "secret" },
        { "allowedCidrs", """{"allowedCidrs":["192.168.0.0/16","2001:DB8::/32"]}""", "secret" },
        { "allowedOrigins", """{"allowedOrigins":["https://app.example.com","http://localhost:3000"]}""", "publishable" },
        { "metadata", """{"metadata":{"owner":"ana","tier":2}}""", "secret" },
    };

    [Theory]
    [MemberData(nameof(EachField))]
    public async Task EachFieldCanBePatchedOverRestAndOverGrpcAndNothingElseMoves(string field, string body, string type)
    {
        var project = await _keys.NewProjectAsync();
        var viaRest = await _keys.NewKeyAsync(project.Id, type, "via-rest");
        var viaGrpc = await _keys.NewKeyAsync(project.Id, type, "via-grpc");

        var restAnswer = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", viaRest.Key.Id, body));
        var update = KeyUpdate.Parser.ParseJson(body.Replace("renamed", "renamed-grpc", StringComparison.Ordinal));
        var grpcAnswer = await Grpc.UpdateKeyAsync(
            new UpdateKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = viaGrpc.Key.Id, Key = update, UpdateMask = new FieldMask { Paths = { field } } },
            _keys.Admin);

        foreach (var (before, after) in new[] { (viaRest.Key, restAnswer), (viaGrpc.Key, grpcAnswer) })
        {
            var descriptor = ApiKey.Descriptor.Fields.InDeclarationOrder().Single(f => f.JsonName == field);
            Assert.NotEqual(descriptor.Accessor.GetValue(before)?.ToString(), descriptor.Accessor.GetValue(after)?.ToString());
            // Everything else is as it was (status follows enabled).
            var expected = before.Clone();
            if (descriptor.IsRepeated)
            {
                var list = (System.Collections.IList)descriptor.Accessor.GetValue(expected);
                list.Clear();
                foreach (var item in (System.Collections.IList)descriptor.Accessor.GetValue(after))
                {
                    list.Add(item);
                }
            }
            else
            {
                descriptor.Accessor.SetValue(expected, descriptor.Accessor.GetValue(after));
            }

            expected.Status = after.Enabled ? "active" : "disabled";
            Assert.Equal(expected, after);
            Assert.Equal(after, await _keys.KeyAsync(project.Id, after.Id));
        }
    }

    [Fact]
    public async Task AllowedOriginsArePatchedOnAPublishableKeyAndKeptAsBrowsersSendThem()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "publishable");

        var patched = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(
            project.Id, "dev", key.Key.Id, """{"allowedOrigins":["HTTPS://App.Example.com:443/","http://localhost:3000"]}"""));

        Assert.Equal(["https://app.example.com", "http://localhost:3000"], patched.AllowedOrigins);
    }

    [Fact]
    public async Task ExpiresAtNullOverRestClearsTheExpiryAndNullMetadataClearsTheMetadata()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "secret", configure: r =>
        {
            r.ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(3));
            r.Metadata = Struct.Parser.ParseJson("""{"a":1}""");
            r.RateLimit = new RateLimit { Limit = 1, WindowSeconds = 1 };
        });

        var cleared = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(
            project.Id, "dev", key.Key.Id, """{"expiresAt":null,"metadata":null,"rateLimit":null}"""));

        Assert.Null(cleared.ExpiresAt);
        Assert.Null(cleared.Metadata);
        Assert.Null(cleared.RateLimit);
        Assert.Equal(key.Key.Name, cleared.Name);
    }

    [Fact]
    public async Task AnExplicitUpdateMaskChangesOnlyTheFieldsItNamesWhateverTheBodyHolds()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "secret", "masked", r => r.Scopes.Add("posts:read"));

        var patched = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(
            project.Id, "dev", key.Key.Id, """{"name":"ignored","scopes":["orders:read"]}""", "?updateMask=scopes"));
        var cleared = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(
            project.Id, "dev", key.Key.Id, """{"name":"ignored"}""", "?updateMask=scopes,enabled"));

        Assert.Equal("masked", patched.Name);
        Assert.Equal(["orders:read"], patched.Scopes);
        Assert.Equal(("masked", 0, false), (cleared.Name, cleared.Scopes.Count, cleared.Enabled));
    }

    [Fact]
    public async Task AnEmptyPatchIsNothingToUpdateAndAnEmptyGrpcMaskNamesTheFields()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id);

        await KeyAdminClient.AssertErrorAsync(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, "{}"), HttpStatusCode.BadRequest, "NOTHING_TO_UPDATE");
        // No body at all is not an object: refused as every REST body is, before the update is looked at.
        await KeyAdminClient.AssertErrorAsync(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, null), HttpStatusCode.BadRequest, "MALFORMED_JSON");
        var empty = await KeyLifecycle.RefusedAsync(
            () => Grpc.UpdateKeyAsync(new UpdateKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = key.Key.Id, Key = new KeyUpdate { Name = "x" } }, _keys.Admin).ResponseAsync,
            StatusCode.InvalidArgument, "INVALID_UPDATE_MASK");
        await KeyLifecycle.RefusedAsync(
            () => Grpc.UpdateKeyAsync(Update(project.Id, key.Key.Id, new KeyUpdate(), "name", "type"), _keys.Admin).ResponseAsync,
            StatusCode.InvalidArgument, "INVALID_UPDATE_MASK");
        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"name":"x"}""", query: "?updateMask=name,maskedKey"), HttpStatusCode.BadRequest, "INVALID_UPDATE_MASK");

        // A field a key has but an update cannot set is unknown to the body, as in every REST body.
        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"name":"x","maskedKey":"sk_x"}"""), HttpStatusCode.BadRequest, "MALFORMED_JSON");

        Assert.Contains("name, scopes, expiresAt, enabled, rateLimit, allowedCidrs, allowedOrigins, metadata", empty.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(key.Key.Name, (await _keys.KeyAsync(project.Id, key.Key.Id)).Name);
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        { "secret", """{"name":"taken"}""", "KEY_NAME_TAKEN" },
        { "secret", """{"name":" spaced "}""", "INVALID_KEY_NAME" },
        { "secret", """{"scopes":["posts:write"]}""", "INVALID_SCOPE" },
        { "secret", """{"expiresAt":"2001-01-01T00:00:00Z"}""", "INVALID_EXPIRY" },
        { "secret", """{"rateLimit":{"limit":0,"windowSeconds":60}}""", "INVALID_RATE_LIMIT" },
        { "secret", """{"rateLimit":{"limit":10,"windowSeconds":60,"mode":"cluster"}}""", "INVALID_RATE_LIMIT" },
        { "secret", """{"allowedCidrs":["10.1.2.3/8"]}""", "INVALID_ALLOWED_CIDRS" },
        { "secret", """{"allowedOrigins":["https://app.example.com"]}""", "ALLOWLIST_NOT_FOR_KEY_TYPE" },
        { "publishable", """{"allowedCidrs":["10.0.0.0/8"]}""", "ALLOWLIST_NOT_FOR_KEY_TYPE" },
        { "publishable", """{"allowedOrigins":["https://app.example.com/login"]}""", "INVALID_ALLOWED_ORIGINS" },
        { "secret", """{"metadata":{"blob":"__LARGE__"}}""", "INVALID_METADATA" },
        { "secret", """{"metadata":{"leak":"__KEY__"}}""", "INVALID_METADATA" },
        { "secret", """{"name":"ci __KEY__"}""", "INVALID_KEY_NAME" },
        { "publishable", """{"allowedOrigins":["https://__LONG_HOST__"]}""", "INVALID_ALLOWED_ORIGINS" },
        { "secret", """{"metadata":{"note":"a\u0000b"}}""", "INVALID_METADATA" },
        { "secret", """{"metadata":{"a\u0000b":1}}""", "INVALID_METADATA" },
        { "secret", """{"metadata":{"a":1E+308,"b":-1e-300,"c":1E+308,"d":-1e-300}}""", "INVALID_METADATA" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task EachRuleOfCreateKeyRefusesAnUpdateWithItsCodeAndChangesNothing(string type, string body, string reason)
    {
        var project = await _keys.NewProjectAsync();
        await _keys.NewKeyAsync(project.Id, type, "taken");
        var key = await _keys.NewKeyAsync(project.Id, type, "mine");
        var pasted = KeyString.Generate(ApiKeyType.Secret);
        // A host of 254 characters, in labels of at most 63.
        var longHost = string.Join('.', Enumerable.Repeat(new string('h', 63), 3)) + "." + new string('h', 62);
        body = body.Replace("__LARGE__", new string('x', 1100), StringComparison.Ordinal).Replace("__KEY__", pasted, StringComparison.Ordinal)
            .Replace("__LONG_HOST__", longHost, StringComparison.Ordinal);

        var error = await KeyAdminClient.AssertErrorAsync(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, body), reason == "KEY_NAME_TAKEN" ? HttpStatusCode.Conflict : HttpStatusCode.BadRequest, reason);

        Assert.DoesNotContain(pasted, error.Message, StringComparison.Ordinal);
        Assert.Equal(key.Key, await _keys.KeyAsync(project.Id, key.Key.Id));
    }

    [Fact]
    public async Task ADeletedKeyCannotBeUpdatedAndARolledKeyCanUntilItsGraceEnds()
    {
        var project = await _keys.NewProjectAsync();
        var deleted = await _keys.NewKeyAsync(project.Id);
        await Grpc.DeleteKeyAsync(new DeleteKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = deleted.Key.Id, ConfirmName = deleted.Key.Name }, _keys.Admin);
        var rolled = await _keys.NewKeyAsync(project.Id);
        await Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = rolled.Key.Id, GracePeriodSeconds = 3600 }, _keys.Admin);
        var revoked = await _keys.NewKeyAsync(project.Id);
        await Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = revoked.Key.Id }, _keys.Admin);

        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchKeyAsync(project.Id, "dev", deleted.Key.Id, """{"enabled":false}"""), HttpStatusCode.NotFound, "KEY_NOT_FOUND");
        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchKeyAsync(project.Id, "dev", revoked.Key.Id, """{"enabled":false}"""), HttpStatusCode.NotFound, "KEY_NOT_FOUND");
        await KeyAdminClient.AssertErrorAsync(
            await _keys.PatchKeyAsync(project.Id, "prod", rolled.Key.Id, """{"enabled":false}"""), HttpStatusCode.NotFound, "KEY_NOT_FOUND");
        var disabled = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", rolled.Key.Id, """{"enabled":false}"""));

        // A rolled key in its grace period is rolling whatever else it is.
        Assert.Equal((false, "rolling"), (disabled.Enabled, disabled.Status));
    }

    [Fact]
    public async Task AnExpiredKeysExpiryCannotBeChangedOverRestOrGrpcSoNothingBringsItBack()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "secret", "trial", r => r.ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(2)));
        await Clock.PastAsync(key.Key.ExpiresAt.ToDateTimeOffset());
        var head = await _keys.HeadSequenceAsync();
        var future = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(30));

        foreach (var body in new[] { """{"expiresAt":null}""", """{"expiresAt":"2031-01-01T00:00:00Z"}""", """{"expiresAt":null,"name":"revived"}""" })
        {
            var error = await KeyAdminClient.AssertErrorAsync(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, body), HttpStatusCode.Conflict, "KEY_EXPIRED");
            Assert.Contains("create a new key", error.Message, StringComparison.Ordinal);
        }

        await KeyLifecycle.RefusedAsync(
            () => Grpc.UpdateKeyAsync(Update(project.Id, key.Key.Id, new KeyUpdate(), "expires_at"), _keys.Admin).ResponseAsync, StatusCode.Aborted, "KEY_EXPIRED");
        await KeyLifecycle.RefusedAsync(
            () => Grpc.UpdateKeyAsync(Update(project.Id, key.Key.Id, new KeyUpdate { ExpiresAt = future }, "expiresAt"), _keys.Admin).ResponseAsync,
            StatusCode.Aborted, "KEY_EXPIRED");

        var listed = await _keys.KeyAsync(project.Id, key.Key.Id);
        Assert.Equal((key.Key.ExpiresAt, "trial", "expired"), (listed.ExpiresAt, listed.Name, listed.Status));
        Assert.Equal(key.Key.ExpiresAt, (await _keys.LookupAsync(key.Value))!.ExpiresAt);
        Assert.DoesNotContain(await _keys.ChangesSinceAsync(head), c => KeyLifecycle.Concerns(c, key.Value));
        var events = (await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id }, _keys.Admin)).Events;
        Assert.Equal(["key.created", "project.created"], events.Select(e => e.Action));
    }

    [Fact]
    public async Task AnExpiredKeyCanStillBeRenamedAnnotatedAndSwitchedOffOverRestAndGrpc()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "secret", "trial", r => r.ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(2)));
        await Clock.PastAsync(key.Key.ExpiresAt.ToDateTimeOffset());

        var viaRest = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(
            project.Id, "dev", key.Key.Id, """{"name":"old-trial","metadata":{"note":"ended"},"scopes":["posts:read"]}"""));
        var viaGrpc = await Grpc.UpdateKeyAsync(Update(project.Id, key.Key.Id, new KeyUpdate { Enabled = false }, "enabled"), _keys.Admin);

        Assert.Equal(("old-trial", "ended", "expired"), (viaRest.Name, viaRest.Metadata.Fields["note"].StringValue, viaRest.Status));
        // Switched off, it is disabled first; either way it does not work, and its expiry is where it was.
        Assert.Equal((false, "disabled", key.Key.ExpiresAt), (viaGrpc.Enabled, viaGrpc.Status, viaGrpc.ExpiresAt));
        Assert.True((await _keys.LookupAsync(key.Value))!.ExpiresAt.ToDateTimeOffset() <= DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task MetadataIsStoredWithinOneKilobyteAsPostgresPrintsItHugeAndTinyNumbersIncluded()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id);

        // 24 bytes as sent, 623 as jsonb prints it (1 and 308 zeros; -0. and 299 zeros and 1): within the limit.
        var patched = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"metadata":{"a":1E+308,"b":-1e-300}}"""));

        Assert.Equal((1E+308, -1e-300), (patched.Metadata.Fields["a"].NumberValue, patched.Metadata.Fields["b"].NumberValue));
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        await using var stored = new NpgsqlCommand("SELECT metadata::text FROM api_key WHERE id = @id", connection);
        stored.Parameters.AddWithValue("id", key.Key.Id);
        var text = (string)(await stored.ExecuteScalarAsync())!;
        // jsonb prints a space after each colon and comma; without them, the text is what was measured.
        Assert.Equal(623, text.Replace(": ", ":", StringComparison.Ordinal).Replace(", ", ",", StringComparison.Ordinal).Length);
        Assert.Equal("1" + new string('0', 308), JsonDocument.Parse(text).RootElement.GetProperty("a").GetRawText());
    }

    [Fact]
    public async Task AGrpcMessageLargerThanTheRestBodyCapIsResourceExhaustedAndKeyValidationsReportsAreNot()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "publishable");
        // 100 origins of 700 characters each: 70 KB, over the 64 KB that REST takes.
        var host = string.Join('.', Enumerable.Repeat(new string('h', 63), 11));
        var update = new KeyUpdate();
        update.AllowedOrigins.Add(Enumerable.Range(0, 100).Select(i => $"https://{i}.{host}"));

        var error = await Assert.ThrowsAsync<RpcException>(
            () => Grpc.UpdateKeyAsync(Update(project.Id, key.Key.Id, update, "allowed_origins"), _keys.Admin).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(key.Key, await _keys.KeyAsync(project.Id, key.Key.Id));
        // KeyValidation's usage reports batch thousands of keys: its API keeps gRPC's own cap.
        var usage = new RecordUsageRequest();
        usage.Usages.Add(Enumerable.Range(0, 5000).Select(_ => new KeyUsage { KeyId = ResourceId.NewKeyId(), LastUsedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) }));
        Assert.True(usage.CalculateSize() > 64 * 1024);
        await _keys.Internal.RecordUsageAsync(usage);
    }

    [Fact]
    public async Task DisablingAndEnablingShowInStatusAndAreAuditedAsSuch()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id);

        var off = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"enabled":false}"""));
        var listedOff = await _keys.KeyAsync(project.Id, key.Key.Id);
        var on = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"enabled":true}"""));
        await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"enabled":false,"name":"both"}""");

        Assert.Equal(("disabled", false), (off.Status, off.Enabled));
        Assert.Equal("disabled", listedOff.Status);
        Assert.Equal(("active", true), (on.Status, on.Enabled));
        var events = (await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id }, _keys.Admin)).Events;
        Assert.Equal(["key.updated", "key.enabled", "key.disabled", "key.created", "project.created"], events.Select(e => e.Action));
        Assert.Equal("""{"before":{"enabled":true},"after":{"enabled":false}}""", events[2].Detail);
        Assert.Equal("""{"before":{"name":"%s","enabled":true},"after":{"name":"both","enabled":false}}""".Replace("%s", key.Key.Name, StringComparison.Ordinal), events[0].Detail);
        Assert.All(events.Take(3), e => Assert.Equal((key.Key.Id, "dev", "admin-token"), (e.KeyId, e.Environment, e.ActorId)));
    }

    [Fact]
    public async Task AnUpdateIsAuditedWithTheChangedFieldsBeforeAndAfterAndNoSecret()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "secret", "audited", r => r.Scopes.Add("posts:read"));
        var expiry = DateTimeOffset.UtcNow.AddDays(10);

        await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, $$$"""
            {"scopes":["posts:read"],"expiresAt":"{{{expiry.UtcDateTime:O}}}","allowedCidrs":["10.0.0.0/8"],"rateLimit":{"limit":7,"windowSeconds":60},"metadata":{"team":"billing"}}
            """);
        // Fields sent with the values they had change nothing, so they are not in the detail, and no change is no event.
        await KeyLifecycle.ReadAsync<ApiKey>(await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"name":"audited"}"""));

        var events = (await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id }, _keys.Admin)).Events;
        var update = Assert.Single(events, e => e.Action == "key.updated");
        using var detail = JsonDocument.Parse(update.Detail);
        Assert.Equal(
            ["expiresAt", "rateLimit", "allowedCidrs", "metadata"],
            detail.RootElement.GetProperty("after").EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, detail.RootElement.GetProperty("before").GetProperty("expiresAt").ValueKind);
        Assert.Equal(["10.0.0.0/8"], detail.RootElement.GetProperty("after").GetProperty("allowedCidrs").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(7, detail.RootElement.GetProperty("after").GetProperty("rateLimit").GetProperty("limit").GetInt64());
        var hash = KeyHash.Of(key.Value).ToArray();
        foreach (var secret in new[] { key.Value, key.Value[3..^6], Convert.ToHexString(hash), Convert.ToHexStringLower(hash), Convert.ToBase64String(hash) })
        {
            Assert.DoesNotContain(secret, update.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ConcurrentPatchesOfDifferentFieldsAllLand()
    {
        var project = await _keys.NewProjectAsync();
        var keys = new List<CreateKeyResponse>();
        for (var i = 0; i < 6; i++)
        {
            keys.Add(await _keys.NewKeyAsync(project.Id, "secret", $"contended-{i}"));
        }

        // Each key gets five updates at once, each of another field: a read-modify-write of the whole row would keep
        // only the last one's field.
        string[] bodies =
        [
            """{"scopes":["posts:read"]}""",
            """{"enabled":false}""",
            """{"rateLimit":{"limit":3,"windowSeconds":60}}""",
            """{"allowedCidrs":["10.0.0.0/8"]}""",
            """{"metadata":{"owner":"ana"}}""",
        ];
        var responses = await Task.WhenAll(keys.SelectMany(k => bodies.Select(b => _keys.PatchKeyAsync(project.Id, "dev", k.Key.Id, b))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var key in keys)
        {
            var now = await _keys.KeyAsync(project.Id, key.Key.Id);
            Assert.Equal(["posts:read"], now.Scopes);
            Assert.Equal(["10.0.0.0/8"], now.AllowedCidrs);
            Assert.Equal((false, 3L, "ana"), (now.Enabled, now.RateLimit?.Limit ?? 0, now.Metadata?.Fields["owner"].StringValue));
        }

        var events = (await Grpc.ListAuditEventsAsync(new ListAuditEventsRequest { ProjectId = project.Id }, _keys.Admin)).Events;
        Assert.Equal(keys.Count * bodies.Length, events.Count(e => e.Action is "key.updated" or "key.disabled"));
    }

    [Fact]
    public async Task AChangeValidationSeesIsInvalidatedAndANameOrMetadataChangeIsNot()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id);
        var head = await _keys.HeadSequenceAsync();

        await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, """{"name":"quiet","metadata":{"a":"b"}}""");
        var afterQuiet = await _keys.ChangesSinceAsync(head);
        foreach (var body in new[]
        {
            """{"scopes":["posts:read"]}""",
            """{"expiresAt":"2031-01-01T00:00:00Z"}""",
            """{"enabled":false}""",
            """{"rateLimit":{"limit":3,"windowSeconds":60}}""",
            """{"allowedCidrs":["10.0.0.0/8"]}""",
        })
        {
            Assert.Equal(HttpStatusCode.OK, (await _keys.PatchKeyAsync(project.Id, "dev", key.Key.Id, body)).StatusCode);
        }

        Assert.DoesNotContain(afterQuiet, c => KeyLifecycle.Concerns(c, key.Value));
        Assert.Equal(5, (await _keys.ChangesSinceAsync(head)).Count(c => KeyLifecycle.Concerns(c, key.Value)));
    }

    [Fact]
    public async Task TheRecordValidationLooksUpCarriesTheKeysSettingsButNotItsMetadata()
    {
        var project = await _keys.NewProjectAsync();
        var secret = await _keys.NewKeyAsync(project.Id, "secret", configure: r =>
        {
            r.AllowedCidrs.Add("10.0.0.0/8");
            r.AllowedCidrs.Add("2001:db8::/32");
            r.RateLimit = new RateLimit { Limit = 50, WindowSeconds = 10, Mode = "global" };
            r.Metadata = Struct.Parser.ParseJson("""{"internal":"do-not-ship"}""");
        });
        var publishable = await _keys.NewKeyAsync(project.Id, "publishable", configure: r => r.AllowedOrigins.Add("https://app.example.com"));
        await _keys.PatchKeyAsync(project.Id, "dev", publishable.Key.Id, """{"enabled":false}""");

        var secretRecord = await _keys.LookupAsync(secret.Value);
        var publishableRecord = await _keys.LookupAsync(publishable.Value);

        Assert.NotNull(secretRecord);
        Assert.Equal(new RateLimitRule { Limit = 50, WindowSeconds = 10, Mode = RateLimitMode.Global }, secretRecord.RateLimit);
        Assert.Equal(["10.0.0.0/8", "2001:db8::/32"], secretRecord.AllowedCidrs);
        Assert.False(secretRecord.Disabled);
        Assert.DoesNotContain("do-not-ship", secretRecord.ToString(), StringComparison.Ordinal);
        Assert.NotNull(publishableRecord);
        Assert.True(publishableRecord.Disabled);
        Assert.Equal(["https://app.example.com"], publishableRecord.AllowedOrigins);
        Assert.Null(publishableRecord.RateLimit);
    }

    [Fact]
    public async Task ARollKeepsTheKeysSettings()
    {
        var project = await _keys.NewProjectAsync();
        var old = await _keys.NewKeyAsync(project.Id, "secret", configure: r =>
        {
            r.AllowedCidrs.Add("10.0.0.0/8");
            r.RateLimit = new RateLimit { Limit = 50, WindowSeconds = 10 };
            r.Metadata = Struct.Parser.ParseJson("""{"team":"billing"}""");
        });

        var rolled = await Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = old.Key.Id }, _keys.Admin);

        Assert.Equal(old.Key.AllowedCidrs, rolled.Key.AllowedCidrs);
        Assert.Equal((old.Key.RateLimit, old.Key.Metadata, true), (rolled.Key.RateLimit, rolled.Key.Metadata, rolled.Key.Enabled));
        Assert.Equal(["10.0.0.0/8"], (await _keys.LookupAsync(rolled.Value))!.AllowedCidrs);
    }

    [Fact]
    public async Task CidrsAreStoredAsPostgresNetworksWhichRefuseWhatTheApiRefuses()
    {
        var project = await _keys.NewProjectAsync();
        var key = await _keys.NewKeyAsync(project.Id, "secret", configure: r => r.AllowedCidrs.Add("203.0.113.7"));

        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        await using var type = new NpgsqlCommand("SELECT pg_typeof(allowed_cidrs)::text FROM api_key WHERE id = @id", connection);
        type.Parameters.AddWithValue("id", key.Key.Id);
        await using var widened = new NpgsqlCommand("UPDATE api_key SET allowed_cidrs = '{10.1.2.3/8}' WHERE id = @id", connection);
        widened.Parameters.AddWithValue("id", key.Key.Id);

        Assert.Equal(["203.0.113.7/32"], key.Key.AllowedCidrs);
        Assert.Equal("cidr[]", await type.ExecuteScalarAsync());
        Assert.Equal(PostgresErrorCodes.InvalidTextRepresentation, (await Assert.ThrowsAsync<PostgresException>(() => widened.ExecuteNonQueryAsync())).SqlState);
    }

    public void Dispose() => _keys.Dispose();

    private static UpdateKeyRequest Update(string projectId, string keyId, KeyUpdate key, params string[] paths) =>
        new() { ProjectId = projectId, Environment = "dev", KeyId = keyId, Key = key, UpdateMask = new FieldMask { Paths = { paths } } };
}

internal static class ApiKeyMessages
{
    /// <summary>A copy with a change, for comparing a key with what it should be.</summary>
    public static ApiKey With(this ApiKey key, Action<ApiKey> change)
    {
        var copy = key.Clone();
        change(copy);
        return copy;
    }
}

using System.Text.RegularExpressions;
using Google.Api;
using Keys.KeyAdmin.OpenApi;
using Keys.KeyAdmin.Rest;
using Keys.V1;

namespace Keys.KeyAdmin.UnitTests;

public sealed partial class ErrorCatalogTests
{
    private static readonly string[] Rpcs = [.. KeyAdminService.Descriptor.Methods.Select(m => m.Name)];

    [Fact]
    public void EveryRpcOfKeyAdminServiceHasACatalogEntry() =>
        Assert.All(Rpcs, rpc => Assert.True(ErrorCatalog.Operations.ContainsKey(rpc), $"{rpc} has no entry in ErrorCatalog.Operations"));

    [Fact]
    public void EveryCatalogEntryIsAnRpcOfKeyAdminService() =>
        Assert.All(ErrorCatalog.Operations.Keys, rpc => Assert.Contains(rpc, Rpcs));

    [Fact]
    public void EveryReasonAnOperationListsHasAStatusAndAMeaning()
    {
        var listed = ErrorCatalog.Operations.Values.SelectMany(o => o.Reasons).Concat(ErrorCatalog.EveryOperation).Concat(ErrorCatalog.EveryBody);

        Assert.All(listed, code => Assert.True(ErrorCatalog.Reasons.ContainsKey(code), $"{code} is listed but not described in ErrorCatalog.Reasons"));
        Assert.All(ErrorCatalog.Reasons.Values, r => Assert.Contains(r.Status, new[] { 400, 401, 403, 404, 405, 409, 413, 415, 429, 503 }));
    }

    [Fact]
    public void EveryTagAnOperationUsesIsDescribed() =>
        Assert.All(ErrorCatalog.Operations.Values, o => Assert.Contains(o.Tag, ErrorCatalog.Tags.Select(t => t.Name)));

    // The codes agreed with the handlers' authors for the RPCs added with the contracts (issue 15).
    // UpdateKey also answers KEY_EXPIRED: an expired key cannot be given a new expiry, as it cannot be rolled.
    [Theory]
    [InlineData("UpdateKey", "INVALID_KEY_NAME INVALID_SCOPE INVALID_EXPIRY INVALID_RATE_LIMIT INVALID_ALLOWED_CIDRS INVALID_ALLOWED_ORIGINS ALLOWLIST_NOT_FOR_KEY_TYPE INVALID_METADATA INVALID_UPDATE_MASK NOTHING_TO_UPDATE EXPIRY_REQUIRED EXPIRY_TOO_LONG KEY_NOT_FOUND ENVIRONMENT_NOT_FOUND PROJECT_NOT_FOUND KEY_NAME_TAKEN KEY_EXPIRED")]
    [InlineData("UpdateProject", "INVALID_PROJECT_NAME INVALID_RATE_LIMIT INVALID_LIFETIME_POLICY INVALID_UPDATE_MASK NOTHING_TO_UPDATE PROJECT_NOT_FOUND")]
    [InlineData("FindKey", "INVALID_KEY_FORMAT KEY_NOT_FOUND")]
    [InlineData("CreateKey", "INVALID_RATE_LIMIT INVALID_ALLOWED_CIDRS INVALID_ALLOWED_ORIGINS ALLOWLIST_NOT_FOR_KEY_TYPE INVALID_METADATA EXPIRY_REQUIRED EXPIRY_TOO_LONG")]
    [InlineData("RollKey", "EXPIRY_REQUIRED EXPIRY_TOO_LONG")]
    [InlineData("ListKeys", "INVALID_PAGE_SIZE INVALID_PAGE_TOKEN INVALID_KEY_TYPE INVALID_STATUS_FILTER INVALID_QUERY")]
    [InlineData("ListProjects", "INVALID_PAGE_SIZE INVALID_PAGE_TOKEN")]
    [InlineData("ListAuditEvents", "INVALID_PAGE_SIZE INVALID_PAGE_TOKEN")]
    public void TheCatalogHoldsTheAgreedCodes(string rpc, string codes) =>
        Assert.All(codes.Split(' '), code => Assert.Contains(code, ErrorCatalog.Operations[rpc].Reasons));

    [Fact]
    public void EveryOperationAnswersTheCredentialRoleThrottleAndStoreCodesAndABodyOperationTheRestLayers()
    {
        var createKey = ErrorCatalog.ReasonsOf("CreateKey", hasBody: true).Select(r => r.Code).ToList();
        var listKeys = ErrorCatalog.ReasonsOf("ListKeys", hasBody: false).Select(r => r.Code).ToList();

        Assert.All(ErrorCatalog.EveryOperation, code => Assert.Contains(code, listKeys));
        Assert.All(ErrorCatalog.EveryBody, code => Assert.Contains(code, createKey));
        Assert.DoesNotContain(ErrorCatalog.RequestTooLarge, listKeys);
        Assert.Equal(createKey.Count, createKey.Distinct().Count());
    }

    /// <summary>
    /// A query-string value JSON transcoding cannot read is refused with the reason the RPC gives for a bad value of
    /// that field (INVALID_PAGE_SIZE for pageSize=abc): every such field has one, and its operation lists it.
    /// </summary>
    [Fact]
    public void EveryQueryFieldThatCanHoldABadValueHasAReasonItsOperationLists()
    {
        foreach (var method in KeyAdminService.Descriptor.Methods)
        {
            var main = method.GetOptions().GetExtension(AnnotationsExtensions.Http);
            foreach (var rule in main.AdditionalBindings.Prepend(main))
            {
                var operation = new RestOperation(method, rule);
                var queryFields = method.InputType.Fields.InFieldNumberOrder()
                    .Where(f => !operation.IsBoundElsewhere(f.Name) && f.FieldType != Google.Protobuf.Reflection.FieldType.String);
                foreach (var field in queryFields)
                {
                    Assert.True(RequestShape.QueryFieldReasons.TryGetValue(field.Name, out var reason), $"{method.Name}: query field {field.Name} has no reason");
                    Assert.Contains(reason, ErrorCatalog.Operations[method.Name].Reasons);
                }
            }
        }
    }

    /// <summary>
    /// Every code the management API's handlers, rules and interceptors can refuse with is in the catalog: a new
    /// refusal without its entry would reach clients undocumented. (KeyAdminInternalService is not REST.)
    /// </summary>
    [Fact]
    public void EveryCodeInKeyAdminsSourceIsInTheCatalog()
    {
        var root = Path.Combine(RepositoryRoot(), "services", "KeyAdmin");
        var sources = new[] { "Access", "Data", "Grpc" }
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs"))
            .Where(file => Path.GetFileName(file) != "InternalApi.cs")
            .ToList();
        var codes = sources.SelectMany(file => CodeLiteral().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value)).Distinct().ToList();

        Assert.Contains("KEY_NOT_FOUND", codes);
        Assert.All(codes, code => Assert.True(ErrorCatalog.Reasons.ContainsKey(code), $"{code} is refused in services/KeyAdmin but not in ErrorCatalog"));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Keys.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository (Keys.sln) is not above the tests' directory.");
    }

    // A string literal that is all capitals and underscores: how every stable code is written in the source.
    [GeneratedRegex(@"""([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)""")]
    private static partial Regex CodeLiteral();
}

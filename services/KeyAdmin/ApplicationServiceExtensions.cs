using Google.Protobuf.Reflection;
using Google.Rpc;
using Grpc.AspNetCore.Server;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Grpc;
using Keys.KeyAdmin.Invalidation;
using Keys.KeyAdmin.OpenApi;
using Keys.ServiceAuth;
using Keys.V1;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi.Models;

namespace Keys.KeyAdmin;

public static class ApplicationServiceExtensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<KeyAdminOptions>()
            .BindConfiguration(KeyAdminOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.AddNpgsqlDataSource("keysdb");
        // Fail fast while Redis is away rather than queue: the outbox keeps what could not be published and retries it.
        builder.AddRedisClient("redis", configureOptions: options => options.BacklogPolicy = StackExchange.Redis.BacklogPolicy.FailFast);

        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DatabaseMigrator>());
        builder.Services.AddHealthChecks().AddCheck<MigrationHealthCheck>("migrations");

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ProjectStore>();
        builder.Services.AddSingleton<KeyStore>();
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<OperatorStore>();
        builder.Services.AddSingleton<Outbox>();
        builder.Services.AddSingleton<OutboxRelay>();
        builder.Services.AddSingleton<CacheFlusher>();
        builder.Services.AddSingleton(sp => new PageTokens(PageTokens.KeyFrom(sp.GetRequiredService<IOptions<KeyAdminOptions>>().Value.AdminToken)));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        builder.Services.AddHostedService<OutboxPruner>();

        // Interceptors added here wrap every service, so KeyAdmin's refusals reach clients in one form whatever the RPC.
        builder.Services.AddGrpc(options => options.Interceptors.Add<DomainErrorInterceptor>())
            // ErrorInfo rides in error details; the JSON writer must know the type to print it.
            .AddJsonTranscoding(options => options.TypeRegistry = TypeRegistry.FromMessages(ErrorInfo.Descriptor))
            .AddServiceOptions<ManagementApi>(options => options.Interceptors.Add<OperatorAuthInterceptor>())
            // KeyValidation's own API, with its own credential: operator tokens open the management API only.
            .RequireServiceCredential<InternalApi>();
        // The management API takes no larger a message over gRPC than a body over REST (gRPC's own cap is 4 MB): every
        // one it needs is a few KB, and a key's record grown to megabytes would be held by every gateway. Larger is
        // RESOURCE_EXHAUSTED, unread. KeyValidation's API keeps gRPC's cap: a usage report batches thousands of keys.
        builder.Services.AddOptions<GrpcServiceOptions<ManagementApi>>()
            .Configure<IOptions<KeyAdminOptions>>((grpc, keyAdmin) => grpc.MaxReceiveMessageSize = keyAdmin.Value.MaxRequestBodyBytes);
        builder.Services.AddSingleton<OperatorAuthInterceptor>();
        builder.Services.AddSingleton<DomainErrorInterceptor>();
        builder.Services.AddServiceAuth();
        builder.Services.AddGrpcHealthChecks();
        builder.Services.AddGrpcReflection();

        builder.Services.AddGrpcSwagger();
        builder.Services.AddSwaggerGen(swagger =>
        {
            swagger.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "Keys management API",
                Version = "v1",
                Description = "Projects, environments, API keys and operators. Every call needs 'Authorization: Bearer <token>': an operator token (op_…) or the break-glass admin token.",
            });
            // The contracts project turns the proto comments into this XML file.
            var comments = Path.Combine(AppContext.BaseDirectory, $"{typeof(KeyAdminService).Assembly.GetName().Name}.xml");
            swagger.IncludeXmlComments(comments);
            swagger.IncludeGrpcXmlComments(comments, includeControllerXmlComments: true);
            // After the comments: operationIds, summaries, tags and every error response with its reasons (ErrorCatalog).
            swagger.OperationFilter<OperationConventionsFilter>();
            swagger.DocumentFilter<ApiConventionsDocumentFilter>();
            swagger.AddSecurityDefinition("operator-token", new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer" });
            swagger.AddSecurityRequirement(new OpenApiSecurityRequirement
            {
                [new OpenApiSecurityScheme { Reference = new OpenApiReference { Type = ReferenceType.SecurityScheme, Id = "operator-token" } }] = [],
            });
        });
    }
}

using Keys.KeyValidation;
using Keys.KeyValidation.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<ValidationApi>();
app.MapGrpcHealthChecksService();

app.Run();

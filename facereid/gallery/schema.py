"""The two collections of the gallery store and their indexes.

``faces``: one row per enrolled face. ``gkey`` ("tenant/gallery") is the partition key, so a
gallery's rows hash to one of the partition buckets and a filter on it prunes the others; the
HNSW index (COSINE) serves searches. ``galleries``: one row per gallery with the embedding
model it is bound to; Milvus requires a vector field, hence a 2-d placeholder.
"""

from __future__ import annotations

from pymilvus import DataType, MilvusClient

FACES = "faces"
GALLERIES = "galleries"


def ensure_collections(client: MilvusClient, dim: int, hnsw_m: int, ef_construction: int) -> None:
    """Create the two collections on first use (idempotent) and keep them loaded."""
    if not client.has_collection(FACES):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("face_id", DataType.VARCHAR, max_length=36, is_primary=True)
        schema.add_field("gkey", DataType.VARCHAR, max_length=200, is_partition_key=True)
        schema.add_field("subject", DataType.VARCHAR, max_length=512)  # "" = unnamed
        schema.add_field("source", DataType.VARCHAR, max_length=64)  # image digest or ""
        schema.add_field("created_at", DataType.INT64)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = client.prepare_index_params()
        index.add_index(
            "vector",
            index_type="HNSW",
            metric_type="COSINE",
            params={"M": hnsw_m, "efConstruction": ef_construction},
        )
        client.create_collection(FACES, schema=schema, index_params=index)
    if not client.has_collection(GALLERIES):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("gkey", DataType.VARCHAR, max_length=200, is_primary=True)
        schema.add_field("tenant", DataType.VARCHAR, max_length=100)
        schema.add_field("gallery", DataType.VARCHAR, max_length=100)
        schema.add_field("embedding_model", DataType.VARCHAR, max_length=200)
        schema.add_field("dim", DataType.INT64)
        schema.add_field("created_at", DataType.INT64)
        schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
        index = client.prepare_index_params()
        index.add_index("placeholder", index_type="FLAT", metric_type="L2")
        client.create_collection(GALLERIES, schema=schema, index_params=index)
    client.load_collection(FACES)  # kept loaded: no load on the first search
    client.load_collection(GALLERIES)

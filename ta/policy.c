// SPDX-License-Identifier: BSD-2-Clause
/*
 * optee-tls TA: key policies and the owner identity check.
 *
 * A key owned by a uid (gid) may only be used by a client that logged in
 * with TEE_LOGIN_USER (TEE_LOGIN_GROUP) and whose client UUID is the one
 * the Linux TEE subsystem derives for that id: a name-based (version 5,
 * SHA-1) UUID of "uid=<hex>" ("gid=<hex>") in the namespace below. The
 * kernel computes it from the caller's credentials, so a normal-world
 * process cannot pick it freely.
 */
#include <string.h>
#include <tee_internal_api_extensions.h>
#include "ta_internal.h"

#define SHA1_SIZE	20

/* 58ac9ca0-2086-4683-a1b8-ec4bc08e01b6, as RFC 4122 octets. */
static const uint8_t client_uuid_ns[16] = {
	0x58, 0xac, 0x9c, 0xa0, 0x20, 0x86, 0x46, 0x83,
	0xa1, 0xb8, 0xec, 0x4b, 0xc0, 0x8e, 0x01, 0xb6,
};

#define ALLOW_SIGN_ALL	(OTLS_ALLOW_ECDSA | OTLS_ALLOW_RSA_PKCS1 | \
			 OTLS_ALLOW_RSA_PKCS1_DIGESTINFO | \
			 OTLS_ALLOW_RSA_PSS | OTLS_ALLOW_ED25519)
#define ALLOW_DECRYPT_ALL (OTLS_ALLOW_DECRYPT_PKCS1 | OTLS_ALLOW_DECRYPT_OAEP)

uint32_t otls_allow_implemented(void)
{
	/* Caller DigestInfos of SHA-1 and SHA-2 are signed with the per-hash
	 * GP algorithms every core has; only other input needs OP-TEE's
	 * raw-DigestInfo extension, and a core without it (mbedTLS core,
	 * CFG_CRYPTO_RSASSA_NA1=n) refuses just that input at sign time. */
	return ALLOW_SIGN_ALL | ALLOW_DECRYPT_ALL;
}

uint32_t otls_allow_fit(uint32_t key_type)
{
	switch (key_type) {
	case OTLS_KEY_EC:
		return OTLS_ALLOW_ECDSA;
	case OTLS_KEY_RSA:
		return OTLS_ALLOW_RSA_PKCS1 | OTLS_ALLOW_RSA_PKCS1_DIGESTINFO |
		       OTLS_ALLOW_RSA_PSS | ALLOW_DECRYPT_ALL;
	case OTLS_KEY_ED25519:
		return OTLS_ALLOW_ED25519;
	default:
		return 0;
	}
}

static bool owner_valid(const struct otls_policy *p)
{
	if (p->reserved)
		return false;
	switch (p->owner_kind) {
	case OTLS_OWNER_ANY:
		return p->owner_id == 0;
	case OTLS_OWNER_UID:
	case OTLS_OWNER_GID:
		return true;
	default:
		return false;
	}
}

TEE_Result otls_policy_resolve(uint32_t key_type,
			       const struct otls_policy *req,
			       struct otls_policy *out)
{
	uint32_t fit = otls_allow_fit(key_type);
	uint32_t allowed = req->allowed;

	if (!owner_valid(req))
		return TEE_ERROR_BAD_PARAMETERS;
	if (allowed & ~fit)
		return TEE_ERROR_BAD_PARAMETERS;	/* unknown or wrong type */
	if (!allowed)
		allowed = fit & ALLOW_SIGN_ALL & otls_allow_implemented();
	else if (allowed & ~otls_allow_implemented())
		return TEE_ERROR_NOT_SUPPORTED;

	out->allowed = allowed;
	out->owner_kind = req->owner_kind;
	out->owner_id = req->owner_id;
	out->reserved = 0;
	return TEE_SUCCESS;
}

bool otls_policy_valid(uint32_t key_type, const struct otls_policy *p)
{
	return owner_valid(p) && p->allowed &&
	       !(p->allowed & ~otls_allow_fit(key_type));
}

void otls_client_identity(struct otls_session *s)
{
	TEE_Result res = TEE_SUCCESS;

	res = TEE_GetPropertyAsIdentity(TEE_PROPSET_CURRENT_CLIENT,
					"gpd.client.identity", &s->client);
	s->have_identity = (res == TEE_SUCCESS);
	if (!s->have_identity)
		memset(&s->client, 0, sizeof(s->client));
}

/* "uid=" or "gid=" followed by id in lowercase hex, no leading zeros. */
static size_t id_name(char name[16], const char *prefix, uint32_t id)
{
	static const char hex[] = "0123456789abcdef";
	char digits[8];
	size_t nd = 0;
	size_t len = 0;

	do {
		digits[nd++] = hex[id & 0xf];
		id >>= 4;
	} while (id);

	memcpy(name, prefix, 4);
	len = 4;
	while (nd)
		name[len++] = digits[--nd];
	return len;
}

static TEE_Result owner_uuid(const char *prefix, uint32_t id, TEE_UUID *uuid)
{
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	uint8_t hash[SHA1_SIZE] = { 0 };
	otls_len_t hash_len = sizeof(hash);
	char name[16];
	size_t name_len = id_name(name, prefix, id);
	TEE_Result res = TEE_SUCCESS;
	size_t n = 0;

	res = TEE_AllocateOperation(&op, TEE_ALG_SHA1, TEE_MODE_DIGEST, 0);
	if (res)
		return res;
	TEE_DigestUpdate(op, client_uuid_ns, sizeof(client_uuid_ns));
	res = TEE_DigestDoFinal(op, name, name_len, hash, &hash_len);
	TEE_FreeOperation(op);
	if (res)
		return res;
	if (hash_len != SHA1_SIZE)
		return TEE_ERROR_GENERIC;

	/* RFC 4122: version 5 in the high nibble of octet 6, variant 10 in
	 * the top bits of octet 8. */
	hash[6] = (hash[6] & 0x0f) | 0x50;
	hash[8] = (hash[8] & 0x3f) | 0x80;

	uuid->timeLow = ((uint32_t)hash[0] << 24) | ((uint32_t)hash[1] << 16) |
			((uint32_t)hash[2] << 8) | hash[3];
	uuid->timeMid = (uint16_t)((hash[4] << 8) | hash[5]);
	uuid->timeHiAndVersion = (uint16_t)((hash[6] << 8) | hash[7]);
	for (n = 0; n < 8; n++)
		uuid->clockSeqAndNode[n] = hash[8 + n];
	return TEE_SUCCESS;
}

TEE_Result otls_owner_check(struct otls_session *s,
			    const struct otls_policy *p)
{
	TEE_UUID want = { 0 };
	const TEE_UUID *got = &s->client.uuid;
	const char *prefix = NULL;
	uint32_t login = 0;
	TEE_Result res = TEE_SUCCESS;

	switch (p->owner_kind) {
	case OTLS_OWNER_ANY:
		return TEE_SUCCESS;
	case OTLS_OWNER_UID:
		login = TEE_LOGIN_USER;
		prefix = "uid=";
		break;
	case OTLS_OWNER_GID:
		login = TEE_LOGIN_GROUP;
		prefix = "gid=";
		break;
	default:
		return TEE_ERROR_ACCESS_DENIED;
	}

	if (!s->have_identity || s->client.login != login)
		return TEE_ERROR_ACCESS_DENIED;
	res = owner_uuid(prefix, p->owner_id, &want);
	if (res)
		return res;
	if (got->timeLow != want.timeLow || got->timeMid != want.timeMid ||
	    got->timeHiAndVersion != want.timeHiAndVersion ||
	    memcmp(got->clockSeqAndNode, want.clockSeqAndNode,
		   sizeof(want.clockSeqAndNode)))
		return TEE_ERROR_ACCESS_DENIED;
	return TEE_SUCCESS;
}

TEE_Result otls_slot_owner_check(struct otls_session *s,
				 struct otls_slot *slot)
{
	TEE_Result res = TEE_SUCCESS;

	switch (slot->owner) {
	case OTLS_OWNER_ALLOWED:
		return TEE_SUCCESS;
	case OTLS_OWNER_REFUSED:
		return TEE_ERROR_ACCESS_DENIED;
	default:
		break;
	}
	res = otls_owner_check(s, &slot->rec.policy);
	if (res == TEE_SUCCESS)
		slot->owner = OTLS_OWNER_ALLOWED;
	else if (res == TEE_ERROR_ACCESS_DENIED)
		slot->owner = OTLS_OWNER_REFUSED;
	return res;
}
